//! `/insight`: the pattern report of a scope: a summary first (where incidents gather most,
//! with what the rate means), then each grouping as a chart with its figures folded.

use super::*;
use crate::web::pages::report_scope::shown_value;

fn render_form(ask: &Ask, query: &Fields, problem: Option<&Problem>, choices: &Choices) -> Markup {
    let (scope, year, form, house) = match ask.scope {
        Scope::School => ("school", None, None, None),
        Scope::Year(y) => ("year", Some(y), None, None),
        Scope::Form(f) => ("form", None, Some(f), None),
        Scope::House(h) => ("house", None, None, Some(h)),
        Scope::Pupil(_) => ("pupil", None, None, None),
    };
    let shown = |name: &str, read: String| shown_value(query, problem, name, read);
    html! {
        form.filters.insight-filters method="get" action="/insight" {
            (problem_summary(problem, &FORM_FIELDS))
            div.row {
                label for="scope" { "Whose incidents" }
                select #scope name="scope" {
                    @if choices.school { option value="school" selected[scope == "school"] { "The whole school" } }
                    option value="year" selected[scope == "year"] { "A year group" }
                    option value="form" selected[scope == "form"] { "A form" }
                    @if !choices.houses.is_empty() {
                        option value="house" selected[scope == "house"] { "A house" }
                    }
                    @if matches!(ask.scope, Scope::Pupil(_)) {
                        option value="pupil" selected { "This pupil" }
                    }
                }
                @if let Scope::Pupil(id) = ask.scope { input type="hidden" name="pupil" value=(id); }
                label for="year" { "Year group" }
                select #year name="year" {
                    @for y in &choices.years {
                        option value=(y) selected[year == Some(*y)] { "Year " (y) }
                    }
                }
                label for="form" { "Form" }
                select #form name="form" {
                    option value="" { "Choose a form" }
                    @for (id, name, _) in &choices.forms {
                        option value=(id) selected[form == Some(*id)] { (name) }
                    }
                }
                @if !choices.houses.is_empty() {
                    label for="house" { "House" }
                    select #house name="house" {
                        option value="" { "Choose a house" }
                        @for (id, name) in &choices.houses {
                            option value=(id) selected[house == Some(*id)] { (name) }
                        }
                    }
                }
                label for="from" { "From" }
                input #from type="date" name="from" value=(shown("from", ask.from.to_string()));
                label for="to" { "To" }
                input #to type="date" name="to" value=(shown("to", ask.to.to_string()));
                button type="submit" { "Show" }
            }
            @for field in FORM_FIELDS { (field_problem(problem, field)) }
        }
    }
}

fn render_report(report: &Report) -> Markup {
    let ask = &report.ask;
    let overall = rate_per_100(report.total, report.pupils, report.school_days);
    html! {
        section.card.insight-headline #headline {
            h2 { "Incidents for " (report.scope_name) }
            p.muted { (date(ask.from)) " to " (date(ask.to)) }
            dl.facts {
                dt { "Incidents" } dd #total { (report.total) }
                @if report.rated { dt { "Pupils" } dd #pupils { (report.pupils) } }
                dt { "School days" } dd #school-days { (report.school_days) }
                @if report.rated { dt { "Rate" } dd #rate { (rate_text(overall)) } }
            }
            p.small.muted {
                "An incident with several pupils counts once for each of them. "
                "Choose a bar to see the incidents behind it."
            }
            p { a.button href={ "/insight.csv?" (ask.query()) } { "Download these patterns (CSV)" } }
        }
        (render_summary(report))
        @for (dimension, rows, total_groups) in &report.dimensions {
            section.card.insight-dimension id={ "by-" (dimension.as_str()) } {
                @if rows.is_empty() {
                    h2 { (dimension.title()) }
                    p.muted { "No incidents." }
                } @else {
                    @let bars: Vec<Bar> = rows.iter().map(|row| Bar {
                        label: row.label.clone(),
                        value: f64::from(row.incidents),
                        display: row.display(report.rated),
                        href: Some(ask.drill_link(*dimension, &row.key)),
                    }).collect();
                    (bar_chart(&format!("chart-{}", dimension.as_str()), dimension.title(), "Incidents", &bars))
                    @if *total_groups > rows.len() {
                        p.small.muted { "The " (rows.len()) " with most incidents of " (total_groups) "." }
                    }
                    @if *dimension == Dimension::Pupil {
                        p.small.pupil-reports {
                            "Patterns for one pupil: "
                            @for (i, row) in rows.iter().enumerate() {
                                @if let Some(id) = row.pupil {
                                    @if i > 0 { ", " }
                                    a href={ "/insight?" (Ask { scope: Scope::Pupil(id), ..*ask }.query()) } { (row.label) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// How many groups the summary names.
const SUMMARY_GROUPS: usize = 3;

/// The summary at the top: the largest group of each of the first three groupings that have
/// any (lesson period, place, behaviour), each with its rate and what the rate means; counts
/// only for one pupil.
fn render_summary(report: &Report) -> Markup {
    let largest: Vec<(Dimension, &Row)> = report
        .dimensions
        .iter()
        .filter_map(|(dimension, rows, _)| Some((*dimension, rows.first()?)))
        .take(SUMMARY_GROUPS)
        .collect();
    html! {
        @if !largest.is_empty() {
            section.card #summary {
                h2 { "Where incidents gather most" }
                ul {
                    @for (dimension, row) in &largest {
                        li id={ "summary-" (dimension.as_str()) } {
                            strong { (grouping_name(*dimension)) ": " (row.label) } " · " (row.display(report.rated))
                            @if let Some(rate) = row.rate {
                                br;
                                span.small.muted {
                                    "That is, on an average school day, " (rate_number(rate)) " incidents "
                                    (rate_place(*dimension, &row.label)) " for every 100 pupils in "
                                    (report.scope_name) "."
                                }
                            }
                        }
                    }
                }
                @if !report.rated {
                    p.small.muted #counts-only { "Counts only: rates are for groups of pupils, not for one pupil." }
                }
            }
        }
    }
}

/// A grouping's name in a sentence: "Lesson period" from "By lesson period".
fn grouping_name(dimension: Dimension) -> String {
    let name = dimension.title().trim_start_matches("By ");
    let mut letters = name.chars();
    letters.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(letters).collect()
    })
}

/// Where the incidents of a group were, as the rate's sentence says it.
fn rate_place(dimension: Dimension, label: &str) -> String {
    match dimension {
        Dimension::Behaviour => format!("of {label}"),
        Dimension::Location => format!("in {label}"),
        Dimension::Period => format!("in {label}"),
        Dimension::Weekday => format!("on {label}s"),
        Dimension::Subject => format!("in {label}"),
        Dimension::Pupil => format!("about {label}"),
        Dimension::Staff => format!("logged by {label}"),
    }
}

/// `GET /insight?scope=&year=&form=&pupil=&from=&to=`: the pattern report of a scope.
pub async fn show(visit: Visit) -> PageResult {
    let (ask, problem) = read_ask(&visit.member, &visit.query, today());
    let for_member = visit.member.clone();
    let wanted = problem.is_none();
    let (choices, report) = visit
        .state
        .db
        .report(visit.member.school_id, move |conn| {
            permit(conn, &for_member, ask.scope)?;
            let choices = choices(conn, &for_member)?;
            let report = if wanted {
                Some(build_report(conn, for_member.school_id, ask, false)?)
            } else {
                None
            };
            Ok((choices, report))
        })
        .await?;
    let body = html! {
        h1 { "Incident patterns" }
        p.muted {
            "Which lesson period, place and behaviour bring the most incidents, with rates per 100 pupils "
            "per school day (incidents for every 100 pupils on an average school day) so that groups and "
            "ranges of different sizes compare fairly."
        }
        (render_form(&ask, &visit.query, problem.as_ref(), &choices))
        @if let Some(report) = &report { (render_report(report)) }
    };
    Ok(visit.filtered("Incident patterns", problem.as_ref(), |_| body))
}
