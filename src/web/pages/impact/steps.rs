//! Does each step work? Incidents per pupil per school day in the school days before pupils
//! entered each level against the same number after, by level, year group and member of
//! staff, with its CSV.

use super::*;
use crate::web::pages::charts::{figures, paired_drawing};

/// One group of entries with its summary: a level, a year group or a member of staff.
pub(crate) struct GroupRow {
    /// A stable part of the row's id: "level-3", "year-9", "staff-12".
    pub(crate) key: String,
    pub(crate) label: String,
    pub(crate) summary: ImpactSummary,
    /// Entries of the group whose after window has not ended.
    pub(crate) waiting: u32,
    href: Option<String>,
}

/// What the impact page shows.
pub(crate) struct Impact {
    /// School days in each window.
    pub(crate) n: u32,
    pub(crate) by_level: Vec<GroupRow>,
    pub(crate) by_year: Vec<GroupRow>,
    pub(crate) by_staff: Vec<GroupRow>,
    pub(crate) waiting: u32,
    groups: Groups,
}

/// Sums the judged entries by a key and counts those still waiting, keys in order.
fn group_entries<K: Ord>(
    entries: &[Entry],
    today: NaiveDate,
    key: impl Fn(&Entry) -> Option<K>,
) -> BTreeMap<K, (ImpactSummary, u32)> {
    let mut groups: BTreeMap<K, (ImpactSummary, u32)> = BTreeMap::new();
    for entry in entries {
        if let Some(k) = key(entry) {
            let slot = groups.entry(k).or_default();
            if entry.impact.is_complete(today) {
                slot.0.add(&entry.impact);
            } else {
                slot.1 += 1;
            }
        }
    }
    groups
}

pub(crate) async fn load_impact(
    state: &AppState,
    member: &StaffMember,
    choice: Choice,
    today: NaiveDate,
) -> Result<Impact> {
    let school_id = member.school_id;
    let for_member = member.clone();
    let (entries, n, staff_names, groups) = state
        .db
        .report(school_id, move |conn| {
            let rules = evaluation::load_rules(conn, school_id)?;
            let n = rules.policy.impact_window_days;
            let entries = insight::entries(
                conn,
                school_id,
                choice.scope,
                (choice.from, choice.to),
                &rules.calendar,
                n,
            )?;
            let mut staff_ids: Vec<i64> = entries.iter().filter_map(|e| e.delivered_by).collect();
            staff_ids.sort_unstable();
            staff_ids.dedup();
            let (_, staff_names) = insight::names(conn, school_id, &[], &staff_ids)?;
            Ok((entries, n, staff_names, choosable(conn, &for_member)?))
        })
        .await?;
    Ok(summarise_impact(
        &entries,
        n,
        &staff_names,
        choice,
        today,
        groups,
    ))
}

fn summarise_impact(
    entries: &[Entry],
    n: u32,
    staff_names: &HashMap<i64, String>,
    choice: Choice,
    today: NaiveDate,
    groups: Groups,
) -> Impact {
    let mut levels = group_entries(entries, today, |e| Some(e.impact.level));
    let by_level = Level::ALL[1..]
        .iter()
        .map(|level| {
            let (summary, waiting) = levels.remove(level).unwrap_or_default();
            GroupRow {
                key: format!("level-{}", level.number()),
                label: level_label(*level),
                summary,
                waiting,
                href: Some(format!(
                    "/insight/impact?{}#by-year",
                    choice.query(Some(*level))
                )),
            }
        })
        .collect();
    let by_year = group_entries(entries, today, |e| {
        (choice.level.is_none() || choice.level == Some(e.impact.level)).then_some(e.year)
    })
    .into_iter()
    .map(|(year, (summary, waiting))| {
        let scoped = Choice {
            scope: Scope::Year(year),
            ..choice
        };
        GroupRow {
            key: format!("year-{year}"),
            label: format!("Year {year}"),
            summary,
            waiting,
            href: groups
                .years
                .contains(&year)
                .then(|| format!("/insight/impact?{}", scoped.query(choice.level))),
        }
    })
    .collect();
    let mut by_staff: Vec<GroupRow> = group_entries(entries, today, |e| Some(e.delivered_by))
        .into_iter()
        .map(|(id, (summary, waiting))| GroupRow {
            key: id.map_or_else(|| "staff-none".into(), |id| format!("staff-{id}")),
            label: id
                .and_then(|id| staff_names.get(&id).cloned())
                .unwrap_or_else(|| "Not recorded".into()),
            summary,
            waiting,
            href: None,
        })
        .collect();
    by_staff.sort_by(|a, b| a.label.cmp(&b.label));
    let waiting = entries
        .iter()
        .filter(|e| !e.impact.is_complete(today))
        .count();
    Impact {
        n,
        by_level,
        by_year,
        by_staff,
        waiting: u32::try_from(waiting).unwrap_or(u32::MAX),
        groups,
    }
}

fn rate_text(rate: Option<f64>) -> String {
    rate.map_or_else(|| "-".into(), |r| format!("{r:.2}"))
}

fn change_text(summary: &ImpactSummary) -> String {
    match summary.change_percent() {
        Some(c) if c.abs() < 0.5 => "no change".into(),
        Some(c) => format!("{c:+.0}%"),
        None if summary.pupils == 0 => "-".into(),
        None if summary.after > 0 => "up from none".into(),
        None => "none before or after".into(),
    }
}

/// The caution shown beside a figure from fewer than five pupils.
fn caution(summary: &ImpactSummary) -> Option<String> {
    (summary.pupils > 0 && summary.is_small())
        .then(|| format!("only {}: read with care", pupils_text(summary.pupils)))
}

fn render_group_table(id: &str, caption: &str, first: &str, rows: &[GroupRow]) -> Markup {
    let pairs: Vec<Pair> = rows
        .iter()
        .filter(|row| row.summary.pupils > 0)
        .map(|row| {
            let s = &row.summary;
            Pair {
                label: row.label.clone(),
                before: s.rate_before().unwrap_or(0.0),
                after: s.rate_after().unwrap_or(0.0),
                before_display: rate_text(s.rate_before()),
                after_display: rate_text(s.rate_after()),
                note: caution(s).unwrap_or_else(|| pupils_text(s.pupils)),
                href: row.href.clone(),
            }
        })
        .collect();
    html! {
        (paired_drawing(&format!("{id}-chart"), caption, ("Before", "After"), &pairs))
        (figures(caption, html! {
            table.impact id=(id) {
                caption { (caption) }
                thead {
                    tr {
                        th scope="col" { (first) }
                        th scope="col" { "Pupils judged" }
                        th scope="col" { "Before (incidents per pupil per school day)" }
                        th scope="col" { "After (incidents per pupil per school day)" }
                        th scope="col" { "Change" }
                        th scope="col" { "Fewer incidents after" }
                        th scope="col" { "More incidents after" }
                        th scope="col" { "Waiting" }
                        th scope="col" { "Note" }
                    }
                }
                tbody {
                    @for row in rows {
                        @let s = &row.summary;
                        tr id={ (id) "-" (row.key) } {
                            th scope="row" {
                                @match &row.href {
                                    Some(href) => a href=(href) { (row.label) },
                                    None => (row.label),
                                }
                            }
                            td.pupils { (pupils_text(s.pupils)) }
                            td.before { (rate_text(s.rate_before())) }
                            td.after { (rate_text(s.rate_after())) }
                            td.change { (change_text(s)) }
                            td.fewer { (s.helped) }
                            td.more { (s.worsened) }
                            td.waiting { (row.waiting) }
                            td.note {
                                @if s.pupils == 0 {
                                    "No pupils judged yet"
                                } @else if let Some(text) = caution(s) {
                                    strong.caution { (text) }
                                }
                            }
                        }
                    }
                    @if rows.is_empty() {
                        tr { td colspan="9" { "No pupils entered a level in this range." } }
                    }
                }
            }
        }))
    }
}

fn render_impact(impact: &Impact, choice: &Choice, chosen: &Chosen) -> Markup {
    let n = impact.n;
    let csv = format!("/insight/impact.csv?{}", choice.query(choice.level));
    let year_heading = match choice.level {
        Some(level) => format!("By year group, on {}", level_label(level)),
        None => "By year group, all levels together".into(),
    };
    html! {
        (subnav("/insight/impact"))
        h1 { "Does each step work?" }
        p.hint { "Pupils of " (choice.who(&impact.groups)) " who entered a level from "
            (choice.from.format("%-d %B %Y").to_string()) " to " (choice.to.format("%-d %B %Y").to_string()) "." }
        (chooser(Report::Impact, choice, &impact.groups, chosen))
        p #method {
            "Each figure compares a pupil's incidents in the " (n) " school days before they entered a level with the "
            (n) " school days after, leaving out the day of the step itself and skipping holidays; rates are incidents per pupil per school day."
        }
        p #waiting {
            @if impact.waiting == 0 {
                "No steps are waiting: every step in this range has been judged."
            } @else if impact.waiting == 1 {
                "1 step is waiting: its " (n) " school days after have not ended yet, so it is not judged."
            } @else {
                (impact.waiting) " steps are waiting: their " (n) " school days after have not ended yet, so they are not judged."
            }
        }
        p { a.button href=(csv) { "Download these figures (CSV)" } }
        p.hint { "Fewer than 5 pupils is too few to read much into: such figures carry a caution." }

        section #by-level {
            h2 { "By level entered" }
            (render_group_table("impact-by-level", "Incidents before and after entering each level", "Level", &impact.by_level))
        }
        section #by-year {
            h2 { (year_heading) }
            (render_group_table("impact-by-year", &year_heading, "Year group", &impact.by_year))
        }
        section #by-staff {
            h2 { "By member of staff delivering the step" }
            p.hint { "The adult who held the Coaching Conversation, the practitioner of a Coaching Programme's first block, otherwise the person who took the step." }
            (render_group_table("impact-by-staff", "Incidents before and after, by who delivered the step", "Member of staff", &impact.by_staff))
        }
    }
}

/// `GET /insight/impact?scope=school|year&year=&from=&to=&level=`: for each level entered in
/// the range (the last year unless chosen), incidents per pupil per school day in the school
/// days before against the same number after, with the pupils behind each figure; then by
/// year group and by who delivered the step.
pub async fn impact(visit: Visit) -> PageResult {
    let today = today();
    let (choice, problem) = read_choice(&visit.member, &visit.query, Report::Impact, today)?;
    let impact = load_impact(&visit.state, &visit.member, choice, today).await?;
    let chosen = Chosen {
        typed: &visit.query,
        problem: problem.as_ref(),
        can_see_school: sees_school(&visit.member),
    };
    let body = render_impact(&impact, &choice, &chosen);
    Ok(visit.filtered("Does each step work?", problem.as_ref(), |_| body))
}

/// The columns of the impact CSV: one row per group.
const IMPACT_COLUMNS: [&str; 11] = [
    "Grouping",
    "Group",
    "Pupils judged",
    "Incidents before",
    "Incidents after",
    "School days",
    "Rate before (per pupil per school day)",
    "Rate after (per pupil per school day)",
    "Change (%)",
    "Fewer incidents after",
    "More incidents after",
];

fn impact_csv_rows(impact: &Impact, choice: &Choice) -> Vec<Vec<String>> {
    let year_grouping = match choice.level {
        Some(level) => format!("Year group ({})", level_label(level)),
        None => "Year group (all levels)".into(),
    };
    let mut rows = vec![IMPACT_COLUMNS.iter().map(|c| c.to_string()).collect()];
    let groupings = [
        ("Level".to_string(), &impact.by_level),
        (year_grouping, &impact.by_year),
        ("Member of staff".to_string(), &impact.by_staff),
    ];
    for (grouping, groups) in groupings {
        for row in groups {
            let s = &row.summary;
            rows.push(vec![
                grouping.clone(),
                text_cell(&row.label),
                s.pupils.to_string(),
                s.before.to_string(),
                s.after.to_string(),
                s.school_days.to_string(),
                csv_number(s.rate_before(), 3),
                csv_number(s.rate_after(), 3),
                csv_number(s.change_percent(), 1),
                s.helped.to_string(),
                s.worsened.to_string(),
            ]);
        }
    }
    rows
}

/// `GET /insight/impact.csv`: the impact figures for the same choice, one row per grouping
/// and group.
pub async fn impact_csv(visit: Visit) -> PageResult {
    let today = today();
    let choice = read_download_choice(&visit.member, &visit.query, Report::Impact, today)?;
    let impact = load_impact(&visit.state, &visit.member, choice, today).await?;
    let body = csv_bytes(&impact_csv_rows(&impact, &choice))?;
    Ok(csv_response(
        &format!(
            "impact-{}-{}-{}.csv",
            choice.file_part(),
            choice.from,
            choice.to
        ),
        body,
    ))
}
