//! The provision CSVs: one pupil's provision, and the whole-school map.

use actix_web::web;
use chrono::NaiveDate;

use crate::db::audit::{self, Read};
use crate::db::provision::{self, ItemView, SchoolMap};
use crate::domain::programme::Fidelity;
use crate::error::Error;
use crate::web::pages::form::{csv_bytes, csv_response, text_cell};
use crate::web::pages::form_page::{PageResult, Visit};

use super::map::{map_detail, pupil_count, read_map_filter, require_map, row_overdue};
use super::{
    block_status, decision_title, is_active, pounds_for_csv, progress_title, provider_kind,
    pupil_id_of, sen_title, today,
};

// ---------------------------------------------------------------------------------------------
// CSV
// ---------------------------------------------------------------------------------------------

/// The columns of a pupil's provision CSV.
const ITEM_COLUMNS: [&str; 23] = [
    "UPN",
    "Provision",
    "Provider type",
    "Provider",
    "Sessions a week",
    "Minutes a session",
    "Starts",
    "Review",
    "Ends",
    "Cost per session (GBP)",
    "Cost per term (GBP)",
    "Status",
    "Entry data",
    "Target",
    "Exit data",
    "Outcome",
    "Reviews",
    "Last reviewed",
    "Last assessment",
    "Last progress",
    "Last plan for the next cycle",
    "Last decision",
    "Next review",
];

fn item_csv_rows(upn: &str, items: &[ItemView]) -> Vec<Vec<String>> {
    let mut rows = vec![ITEM_COLUMNS.iter().map(|c| c.to_string()).collect()];
    for view in items {
        let item = &view.item;
        let last = view.reviews.last();
        rows.push(vec![
            upn.to_string(),
            text_cell(&item.what),
            provider_kind(item.external).to_string(),
            text_cell(&item.provider_name),
            item.frequency_per_week.to_string(),
            item.session_minutes.to_string(),
            item.starts_on.to_string(),
            item.review_on.to_string(),
            item.ends_on.to_string(),
            pounds_for_csv(u64::try_from(item.cost_per_session_pence).unwrap_or(0)),
            pounds_for_csv(view.cost_per_term_pence()),
            item.status.clone(),
            text_cell(&item.entry_data),
            text_cell(&item.target),
            text_cell(item.exit_data.as_deref().unwrap_or_default()),
            item.outcome
                .as_deref()
                .map(progress_title)
                .unwrap_or_default()
                .to_string(),
            view.reviews.len().to_string(),
            last.map(|r| r.reviewed_on.to_string()).unwrap_or_default(),
            text_cell(last.map(|r| r.assessment.as_str()).unwrap_or_default()),
            last.map(|r| progress_title(&r.progress).to_string())
                .unwrap_or_default(),
            text_cell(
                last.and_then(|r| r.next_plan.as_deref())
                    .unwrap_or_default(),
            ),
            last.map(|r| decision_title(&r.decision).to_string())
                .unwrap_or_default(),
            if is_active(view) {
                item.review_on.to_string()
            } else {
                String::new()
            },
        ]);
    }
    let total: u64 = items
        .iter()
        .filter(|i| is_active(i))
        .map(ItemView::cost_per_term_pence)
        .sum();
    let mut totals = vec![String::new(); ITEM_COLUMNS.len()];
    totals[0] = "Total".to_string();
    totals[1] = "Active provision".to_string();
    totals[10] = pounds_for_csv(total);
    rows.push(totals);
    rows
}

/// `GET /pupils/{id}/provision.csv`: the pupil's provision, one row per item with its
/// latest review, and a row with the cost per term of the active provision. The file is named
/// by the pupil's UPN, never their name.
pub async fn pupil_csv(visit: Visit, path: web::Path<String>) -> PageResult {
    let pupil_id = pupil_id_of(&path)?;
    let member = visit.member;
    let (upn, body) = visit
        .state
        .db
        .write(move |conn| {
            let (pupil, _) = provision::pupil_for_support(conn, &member, pupil_id)?;
            let items = provision::items_for(conn, member.school_id, pupil_id)?;
            let body = csv_bytes(&item_csv_rows(&pupil.upn, &items))?;
            let detail = format!("{} items", items.len());
            audit::record_read(conn, &member, Read::ProvisionExport, Some(pupil_id), detail)?;
            Ok((pupil.upn, body))
        })
        .await?;
    Ok(csv_response(&format!("provision-{upn}.csv"), body))
}

/// The columns of the whole-school map's CSV.
const MAP_COLUMNS: [&str; 17] = [
    "UPN",
    "Pupil",
    "Year",
    "Form",
    "SEN status",
    "Level",
    "Plan version",
    "Plan review",
    "Programme block (weeks)",
    "Block status",
    "Fidelity (%)",
    "Fidelity band",
    "Active provision",
    "Cost per term (GBP)",
    "Outcome",
    "Next review",
    "Overdue",
];

fn fidelity_cells(fidelity: Fidelity) -> [String; 2] {
    [
        fidelity
            .percent()
            .map(|p| p.to_string())
            .unwrap_or_default(),
        fidelity
            .band()
            .map(|b| b.as_str().to_string())
            .unwrap_or_default(),
    ]
}

fn map_csv_rows(map: &SchoolMap, today: NaiveDate) -> Vec<Vec<String>> {
    let mut rows = vec![MAP_COLUMNS.iter().map(|c| c.to_string()).collect()];
    for row in &map.rows {
        let pupil = &row.pupil;
        let [percent, band] = row
            .block
            .as_ref()
            .map(|b| fidelity_cells(b.fidelity.fidelity))
            .unwrap_or_default();
        let active: Vec<String> = row
            .active_items()
            .map(|v| {
                format!(
                    "{} ({}: {})",
                    v.item.what,
                    provider_kind(v.item.external),
                    v.item.provider_name
                )
            })
            .collect();
        rows.push(vec![
            pupil.upn.clone(),
            text_cell(&format!("{} {}", pupil.given_name, pupil.family_name)),
            row.year.to_string(),
            text_cell(&row.form),
            sen_title(&pupil.sen_status).to_string(),
            pupil.level.to_string(),
            row.plan.map(|(v, _)| v.to_string()).unwrap_or_default(),
            row.plan.map(|(_, on)| on.to_string()).unwrap_or_default(),
            row.block
                .as_ref()
                .map(|b| b.weeks.to_string())
                .unwrap_or_default(),
            row.block
                .as_ref()
                .map(|b| block_status(&b.status).to_string())
                .unwrap_or_default(),
            percent,
            band,
            text_cell(&active.join("; ")),
            pounds_for_csv(row.cost_per_term_pence),
            row.outcome(),
            row.next_review.map(|on| on.to_string()).unwrap_or_default(),
            if row_overdue(row, today) { "yes" } else { "" }.to_string(),
        ]);
    }
    let [percent, band] = fidelity_cells(map.fidelity);
    let mut totals = vec![String::new(); MAP_COLUMNS.len()];
    totals[0] = "Total".to_string();
    totals[1] = pupil_count(map.rows.len());
    totals[10] = percent;
    totals[11] = band;
    totals[12] = format!("{} active", map.active_items);
    totals[13] = pounds_for_csv(map.cost_per_term_pence);
    rows.push(totals);
    rows
}

/// `GET /provision.csv?year=&level=&sen_status=`: the filtered whole-school map as CSV, one
/// row per pupil and a totals row. For the SENDCO and SLT.
pub async fn map_csv(visit: Visit) -> PageResult {
    require_map(&visit.member)?;
    let (filter, problem) = read_map_filter(&visit.query);
    if let Some(problem) = problem {
        return Err(Error::from(&problem).into());
    }
    let today = today();
    let member = visit.member;
    let school_id = member.school_id;
    let detail = map_detail(&filter);
    // A report (see `map`): read on the reports' connections, the read then recorded.
    let body = visit
        .state
        .db
        .report(school_id, move |conn| {
            let map = provision::school_map(conn, school_id, &filter, today)?;
            csv_bytes(&map_csv_rows(&map, today))
        })
        .await?;
    visit
        .state
        .db
        .write(move |conn| {
            audit::record_read(conn, &member, Read::ProvisionMapExport, None, detail)
        })
        .await?;
    Ok(csv_response(&format!("provision-map-{today}.csv"), body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_text_never_starts_a_formula() {
        assert_eq!(text_cell("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(text_cell("-1"), "'-1");
        assert_eq!(text_cell("Reading"), "Reading");
    }
}
