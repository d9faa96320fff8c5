//! `/insight.csv`: the pattern report as CSV.

use super::*;

/// The columns of the patterns CSV.
const CSV_COLUMNS: [&str; 9] = [
    "Scope",
    "From",
    "To",
    "Pupils",
    "School days",
    "Dimension",
    "Group",
    "Incidents",
    "Rate per 100 pupils per school day",
];

fn csv_rows(report: &Report) -> Vec<Vec<String>> {
    let mut rows = vec![CSV_COLUMNS.iter().map(|c| (*c).to_string()).collect()];
    for (dimension, groups, _) in &report.dimensions {
        for row in groups {
            rows.push(vec![
                text_cell(&report.scope_name),
                report.ask.from.to_string(),
                report.ask.to.to_string(),
                report.pupils.to_string(),
                report.school_days.to_string(),
                dimension.as_str().to_string(),
                text_cell(&row.label),
                row.incidents.to_string(),
                rate_cell(row.rate),
            ]);
        }
    }
    rows
}

/// `GET /insight.csv?scope=&year=&form=&pupil=&from=&to=`: the pattern report as CSV, one
/// row per group of every dimension, each with the scope, range, pupils and school days.
pub async fn csv(visit: Visit) -> PageResult {
    let (ask, problem) = read_ask(&visit.member, &visit.query, today());
    if let Some(problem) = &problem {
        return Err(Error::from(problem).into());
    }
    let member = visit.member.clone();
    let body = visit
        .state
        .db
        .report(visit.member.school_id, move |conn| {
            permit(conn, &member, ask.scope)?;
            let report = build_report(conn, member.school_id, ask, true)?;
            csv_bytes(&csv_rows(&report))
        })
        .await?;
    Ok(csv_response(
        &format!("incident-patterns-{}-{}.csv", ask.from, ask.to),
        body,
    ))
}
