//! The ladder at a glance: pupils on each level now, the three tiers against the usual
//! 80/15/5, and how pupils moved week by week (school holidays shown as gaps), with its CSV.

use super::*;
use crate::web::pages::charts::{bar_drawing, figures, line_drawing, paired_drawing};

/// How a week with no school day and no move reads, where it is left as a gap.
const HOLIDAY: &str = "School holiday";

/// What the ladder page shows.
pub(crate) struct Ladder {
    pub(crate) counts: [u32; 7],
    pub(crate) flow: Vec<WeekFlow>,
    groups: Groups,
}

impl Ladder {
    pub(crate) fn total(&self) -> u32 {
        self.counts.iter().sum()
    }

    pub(crate) fn tier_count(&self, tier: Tier) -> u32 {
        Level::ALL
            .iter()
            .zip(self.counts)
            .filter(|(level, _)| Tier::of(**level) == tier)
            .map(|(_, n)| n)
            .sum()
    }

    /// The share of pupils above the universal tier, in percent.
    pub(crate) fn above_universal(&self) -> Option<f64> {
        percent(
            self.tier_count(Tier::Targeted) + self.tier_count(Tier::Specialist),
            self.total(),
        )
    }

    /// One sentence on the shape of the ladder.
    pub(crate) fn shape(&self) -> String {
        let usual = Tier::Targeted.usual_percent() + Tier::Specialist.usual_percent();
        match self.above_universal() {
            None => "There are no pupils here yet, so there is no shape to read.".into(),
            Some(above) if above > f64::from(usual) => format!(
                "Top-heavy: {above:.0}% of pupils have targeted or specialist support, more \
                 than the usual {usual}%."
            ),
            Some(above) => format!(
                "Not top-heavy: {above:.0}% of pupils have targeted or specialist support, \
                 within the usual {usual}%."
            ),
        }
    }
}

pub(crate) async fn load_ladder(
    state: &AppState,
    member: &StaffMember,
    choice: Choice,
) -> Result<Ladder> {
    let school_id = member.school_id;
    let for_member = member.clone();
    let (counts, flow, groups) = state
        .db
        .report(school_id, move |conn| {
            let counts = insight::pupils_per_level(conn, school_id, choice.scope)?;
            let calendar = evaluation::load_rules(conn, school_id)?.calendar;
            let changes: Vec<_> =
                insight::level_moves(conn, school_id, choice.scope, choice.from, choice.to)?
                    .into_iter()
                    .map(|m| (m.on, m.from, m.to))
                    .collect();
            let groups = choosable(conn, &for_member)?;
            Ok((
                counts,
                weekly_flow(&changes, choice.from, choice.to, &calendar),
                groups,
            ))
        })
        .await?;
    Ok(Ladder {
        counts,
        flow,
        groups,
    })
}

fn render_ladder(ladder: &Ladder, choice: &Choice, chosen: &Chosen) -> Markup {
    let total = ladder.total();
    let csv = format!("/insight/ladder.csv?{}", choice.query(None));
    html! {
        (subnav("/insight/ladder"))
        h1 { "The ladder at a glance" }
        p.hint { "Pupils of " (choice.who(&ladder.groups)) " on each level now, and how pupils moved from "
            (choice.from.format("%-d %B %Y").to_string()) " to " (choice.to.format("%-d %B %Y").to_string()) "." }
        (chooser(Report::Ladder, choice, &ladder.groups, chosen))
        p { a.button href=(csv) { "Download these figures (CSV)" } }

        section #levels {
            h2 { "Pupils on each level now" }
            p { (pupils_text(total)) " in all." }
            (bar_drawing("levels-chart", "Pupils on each level now", &level_bars(ladder)))
            (figures("Pupils on each level now", html! {
                table.levels {
                    caption { "Pupils on each level now" }
                    thead { tr { th scope="col" { "Level" } th scope="col" { "Pupils" } th scope="col" { "Share" } } }
                    tbody {
                        @for (level, n) in Level::ALL.iter().zip(ladder.counts) {
                            tr id={ "level-" (level.number()) } {
                                th scope="row" { (level_label(*level)) }
                                td.count { (n) }
                                td.share { (whole_percent(percent(n, total))) }
                            }
                        }
                    }
                }
            }))
        }

        section #tiers {
            h2 { "The three tiers against the usual shape" }
            p #shape { (ladder.shape()) }
            (paired_drawing("tiers-chart", "Share of pupils in each tier: here and usually", ("Share here", "Usual share"), &tier_pairs(ladder)))
            (figures("Share of pupils in each tier", html! {
                table.tiers {
                    caption { "Share of pupils in each tier, beside the usual share" }
                    thead { tr { th scope="col" { "Tier" } th scope="col" { "Pupils" } th scope="col" { "Share here" } th scope="col" { "Usual share" } } }
                    tbody {
                        @for tier in Tier::ALL {
                            @let n = ladder.tier_count(tier);
                            tr id={ "tier-" (tier_name(tier)) } {
                                th scope="row" { (tier.title()) }
                                td.count { (n) }
                                td.share { (whole_percent(percent(n, total))) }
                                td.usual { (tier.usual_percent()) "%" }
                            }
                        }
                    }
                }
            }))
        }

        section #flow {
            h2 { "Movement week by week" }
            p.hint { "Escalations are moves up the ladder; step downs are moves to a lower level; closures are moves off the ladder altogether. School holidays are left as gaps." }
            @for (id, caption, series) in FLOW_SERIES {
                (line_drawing(id, caption, &flow_points(&ladder.flow, series), &[]))
            }
            (figures("Level changes in each week", html! {
                table.flow {
                    caption { "Level changes in each week (weeks start on Monday)" }
                    thead { tr { th scope="col" { "Week of" } th scope="col" { "Escalations" } th scope="col" { "Step downs" } th scope="col" { "Closures" } } }
                    tbody {
                        @for week in &ladder.flow {
                            @let monday = week.week.map(|d| d.to_string()).unwrap_or_default();
                            tr id={ "week-" (monday) } {
                                th scope="row" { (monday) }
                                @if week.is_holiday() {
                                    td.holiday colspan="3" { (HOLIDAY) }
                                } @else {
                                    td.escalations { (week.escalations) }
                                    td.step-downs { (week.step_downs) }
                                    td.closures { (week.closures) }
                                }
                            }
                        }
                    }
                }
            }))
        }
    }
}

/// The weekly flow's three series: chart id, caption and which count.
/// Which count of a week a flow series shows.
type Series = fn(&WeekFlow) -> u32;

const FLOW_SERIES: [(&str, &str, Series); 3] = [
    ("escalations-chart", "Escalations each week", |w| {
        w.escalations
    }),
    ("step-downs-chart", "Step downs each week", |w| w.step_downs),
    ("closures-chart", "Closures each week", |w| w.closures),
];

fn level_bars(ladder: &Ladder) -> Vec<Bar> {
    let total = ladder.total();
    Level::ALL
        .iter()
        .zip(ladder.counts)
        .map(|(level, n)| Bar {
            label: level_label(*level),
            value: f64::from(n),
            display: format!("{n} ({})", whole_percent(percent(n, total))),
            href: None,
        })
        .collect()
}

fn tier_pairs(ladder: &Ladder) -> Vec<Pair> {
    let total = ladder.total();
    Tier::ALL
        .iter()
        .map(|tier| {
            let n = ladder.tier_count(*tier);
            let share = percent(n, total);
            Pair {
                label: tier.title().into(),
                before: share.unwrap_or(0.0),
                after: f64::from(tier.usual_percent()),
                before_display: whole_percent(share),
                after_display: format!("{}%", tier.usual_percent()),
                note: pupils_text(n),
                href: None,
            }
        })
        .collect()
}

fn flow_points(flow: &[WeekFlow], series: Series) -> Vec<Point> {
    flow.iter()
        .map(|week| {
            let n = series(week);
            Point {
                label: week
                    .week
                    .map(|d| d.format("%-d %b").to_string())
                    .unwrap_or_default(),
                value: f64::from(n),
                display: if week.is_holiday() {
                    HOLIDAY.to_string()
                } else {
                    n.to_string()
                },
                gap: week.is_holiday(),
            }
        })
        .collect()
}

fn tier_name(tier: Tier) -> &'static str {
    match tier {
        Tier::Universal => "universal",
        Tier::Targeted => "targeted",
        Tier::Specialist => "specialist",
    }
}

/// `GET /insight/ladder?scope=school|year&year=&from=&to=`: pupils on each level now, the
/// tiers against the usual 80/15/5, and the weekly flow over the range (the last twelve weeks
/// unless chosen).
pub async fn ladder(visit: Visit) -> PageResult {
    let (choice, problem) = read_choice(&visit.member, &visit.query, Report::Ladder, today())?;
    let ladder = load_ladder(&visit.state, &visit.member, choice).await?;
    let chosen = Chosen {
        typed: &visit.query,
        problem: problem.as_ref(),
        can_see_school: sees_school(&visit.member),
    };
    let body = render_ladder(&ladder, &choice, &chosen);
    Ok(visit.filtered("The ladder at a glance", problem.as_ref(), |_| body))
}

/// The columns of the ladder's CSV: one figure a row.
const LADDER_COLUMNS: [&str; 4] = ["Section", "Item", "Measure", "Value"];

fn ladder_csv_rows(ladder: &Ladder) -> Vec<Vec<String>> {
    let total = ladder.total();
    let row = |section: &str, item: String, measure: &str, value: String| {
        vec![section.to_string(), item, measure.to_string(), value]
    };
    let mut rows = vec![LADDER_COLUMNS.iter().map(|c| c.to_string()).collect()];
    for (level, n) in Level::ALL.iter().zip(ladder.counts) {
        rows.push(row("Level", level_label(*level), "Pupils", n.to_string()));
        rows.push(row(
            "Level",
            level_label(*level),
            "Share (%)",
            csv_number(percent(n, total), 1),
        ));
    }
    for tier in Tier::ALL {
        let n = ladder.tier_count(tier);
        rows.push(row("Tier", tier.title().into(), "Pupils", n.to_string()));
        rows.push(row(
            "Tier",
            tier.title().into(),
            "Share (%)",
            csv_number(percent(n, total), 1),
        ));
        rows.push(row(
            "Tier",
            tier.title().into(),
            "Usual share (%)",
            tier.usual_percent().to_string(),
        ));
    }
    for week in &ladder.flow {
        let monday = week.week.map(|d| d.to_string()).unwrap_or_default();
        rows.push(row(
            "Week",
            monday.clone(),
            "Escalations",
            week.escalations.to_string(),
        ));
        rows.push(row(
            "Week",
            monday.clone(),
            "Step downs",
            week.step_downs.to_string(),
        ));
        rows.push(row("Week", monday, "Closures", week.closures.to_string()));
    }
    rows
}

/// `GET /insight/ladder.csv`: the ladder's figures, one a row, for the same choice.
pub async fn ladder_csv(visit: Visit) -> PageResult {
    let choice = read_download_choice(&visit.member, &visit.query, Report::Ladder, today())?;
    let ladder = load_ladder(&visit.state, &visit.member, choice).await?;
    let body = csv_bytes(&ladder_csv_rows(&ladder))?;
    Ok(csv_response(
        &format!(
            "ladder-{}-{}-{}.csv",
            choice.file_part(),
            choice.from,
            choice.to
        ),
        body,
    ))
}
