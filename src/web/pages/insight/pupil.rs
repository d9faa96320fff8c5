//! The pupil page's "Incidents over time": the pupil's weekly incidents with their level
//! changes marked, and whether each step up helped.

use super::*;
use crate::domain::insight::school_days_in_week;

/// A step's verdict: fewer, the same or more incidents after; too soon to tell while the
/// after window is open.
fn verdict(step: &StepImpact, today: NaiveDate) -> &'static str {
    if !step.is_complete(today) {
        "too soon to tell"
    } else if step.after < step.before {
        "fewer"
    } else if step.after == step.before {
        "the same"
    } else {
        "more"
    }
}

/// The pupil page's "Incidents over time" section: the pupil's weekly incidents over the last
/// twelve weeks with their level changes marked, a link to their patterns, and whether each
/// step up in the last year was followed by fewer incidents. Empty for members who may not
/// see the pupil's reports. Reads in the caller's transaction.
pub fn pupil_section(
    conn: &mut DbConnection,
    member: &StaffMember,
    pupil: &PupilView,
    today: NaiveDate,
) -> Result<Markup> {
    if !may_see(member, Reach::Pupil(pupil.place())) {
        return Ok(html! {});
    }
    let school_id = member.school_id;
    let scope = Scope::Pupil(pupil.id);
    let rules = evaluation::load_rules(conn, school_id)?;
    let from = today - TimeDelta::weeks(TREND_WEEKS) + TimeDelta::days(1);
    let days = insight::daily_counts(conn, school_id, scope, from, today)?;
    let weeks = weekly(&days, from, today);
    let moves = insight::level_moves(conn, school_id, scope, from, today)?;
    let points: Vec<Point> = weeks
        .iter()
        .map(|(monday, n)| {
            let holiday =
                *n == 0 && school_days_in_week(&rules.calendar, *monday, from, today) == 0;
            Point {
                label: monday.format("%-d %b").to_string(),
                value: f64::from(*n),
                display: if holiday {
                    "school holiday".to_string()
                } else {
                    n.to_string()
                },
                gap: holiday,
            }
        })
        .collect();
    let markers: Vec<Marker> = moves
        .iter()
        .filter_map(|m| {
            let at_index = weeks.iter().rposition(|(monday, _)| *monday <= m.on)?;
            Some(Marker {
                at_index,
                label: format!("Level {} to {}", m.from.number(), m.to.number()),
            })
        })
        .collect();
    let n = rules.policy.impact_window_days;
    let entries = insight::entries(
        conn,
        school_id,
        scope,
        (today - TimeDelta::days(STEPS_DAYS), today),
        &rules.calendar,
        n,
    )?;
    let patterns = Ask {
        scope,
        from: today - TimeDelta::days(DEFAULT_DAYS),
        to: today,
    };
    Ok(html! {
        section.card #incidents-over-time {
            h2 { "Incidents over time" }
            (line_chart("pupil-trend", "Incidents a week, the last 12 weeks", "Incidents", &points, &markers))
            p { a href={ "/insight?" (patterns.query()) } { "Patterns for this pupil" } }
            h3 { "Did each step help?" }
            @if entries.is_empty() {
                p.muted { "No step up in the last year." }
            } @else {
                p.small.muted {
                    "Incidents in the " (n) " school days before each step against the " (n) " school days after it; the day of the step is in neither."
                }
                table.step-impact {
                    thead { tr {
                        th { "Level entered" } th { "Date" } th.num { "Before" } th.num { "After" } th { "Verdict" }
                    } }
                    tbody {
                        @for entry in entries.iter().rev() {
                            @let step = &entry.impact;
                            tr {
                                td { (step.level.number()) " · " (step.level.title()) }
                                td { (date(step.entered_on)) }
                                td.num { (step.before) }
                                td.num { (step.after) }
                                td.verdict { (verdict(step, today)) }
                            }
                        }
                    }
                }
            }
        }
    })
}
