//! `/insight/incidents`: the incidents behind one bar of the pattern report.

use super::*;

/// The incidents behind one group.
struct Drill {
    scope_name: String,
    rows: Vec<(
        crate::db::models::IncidentRow,
        Vec<crate::db::models::PupilRow>,
    )>,
    staff: HashMap<i64, String>,
    total: usize,
    /// Incidents counted here whose records the retention schedule has erased.
    erased: usize,
    group: String,
}

fn build_drill(
    conn: &mut DbConnection,
    school_id: i64,
    ask: Ask,
    dimension: Dimension,
    key: &str,
) -> Result<Drill> {
    let facts = insight::facts(conn, school_id, ask.scope, ask.from, ask.to)?;
    let timetable = timetable::load(conn, school_id)?;
    let matching: Vec<&IncidentFact> = facts
        .iter()
        .filter(|fact| group_of(fact, dimension, &timetable) == key)
        .collect();
    // Facts come oldest first: keep the newest distinct incidents.
    let erased = matching
        .iter()
        .filter(|fact| fact.incident_id == ERASED)
        .count();
    let mut seen = BTreeSet::new();
    let mut ids = Vec::new();
    for fact in matching.iter().rev().filter(|f| f.incident_id != ERASED) {
        if seen.insert(fact.incident_id) && ids.len() < DRILL_LIMIT {
            ids.push(fact.incident_id);
        }
    }
    let rows = insight::incidents_by_id(conn, school_id, &ids)?;
    let mut staff_ids: Vec<i64> = rows.iter().map(|(row, _)| row.reported_by).collect();
    let key_id = key.parse::<i64>().ok();
    if let (Dimension::Staff, Some(id)) = (dimension, key_id) {
        staff_ids.push(id);
    }
    staff_ids.sort_unstable();
    staff_ids.dedup();
    let pupil_ids: Vec<i64> = key_id
        .filter(|_| dimension == Dimension::Pupil)
        .into_iter()
        .collect();
    let (pupil_names, staff) = insight::names(conn, school_id, &pupil_ids, &staff_ids)?;
    let group = match (dimension, key_id) {
        (Dimension::Pupil, Some(ERASED)) => ERASED_PUPILS.to_string(),
        (Dimension::Pupil, Some(id)) => pupil_names.get(&id).cloned().unwrap_or_default(),
        (Dimension::Staff, Some(id)) => staff.get(&id).cloned().unwrap_or_default(),
        _ => key.to_string(),
    };
    Ok(Drill {
        scope_name: scope_name(conn, school_id, ask.scope)?,
        rows,
        staff,
        total: seen.len(),
        erased,
        group,
    })
}

fn render_drill(ask: &Ask, dimension: Dimension, drill: &Drill) -> Markup {
    html! {
        h1 { "Incidents: " (drill.group) }
        p.muted {
            (dimension.title()) " · " (drill.scope_name) " · " (date(ask.from)) " to " (date(ask.to))
        }
        p { a href={ "/insight?" (ask.query()) } { "Back to the patterns" } }
        @if drill.total > drill.rows.len() {
            p.notice #more role="status" {
                "Showing the newest " (drill.rows.len()) " of " (drill.total) " incidents. Choose a shorter range to see them all."
            }
        }
        @if drill.erased > 0 {
            p.muted #erased {
                "The patterns also count " (drill.erased) " incident(s) of pupils whose records were erased under the school's retention schedule; they cannot be listed."
            }
        }
        @if drill.rows.is_empty() {
            p.muted { "No incidents." }
        } @else {
            div.scroll tabindex="0" role="region" aria-label="The incidents" {
                table.insight-incidents {
                    thead { tr {
                        th { "Date and time" } th { "Pupils" } th { "Behaviour" } th { "Place" } th { "Lesson" } th { "Logged by" }
                    } }
                    tbody {
                        @for (row, pupils) in &drill.rows {
                            tr data-incident=(row.id) {
                                td { (local(from_db_time(row.occurred_at))) }
                                td {
                                    @for (i, pupil) in pupils.iter().enumerate() {
                                        @if i > 0 { ", " }
                                        a href={ "/pupils/" (pupil.id) } { (pupil.given_name) " " (pupil.family_name) }
                                    }
                                }
                                td { (row.behaviour) }
                                td { (row.location.as_deref().unwrap_or("")) }
                                td { (row.lesson.as_deref().unwrap_or("")) }
                                td { (drill.staff.get(&row.reported_by).map_or("", String::as_str)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `GET /insight/incidents?...&dimension=D&key=K`: the incidents behind one bar, newest
/// first.
pub async fn incidents(visit: Visit) -> PageResult {
    let (ask, problem) = read_ask(&visit.member, &visit.query, today());
    let dimension = visit
        .query
        .get("dimension")
        .and_then(Dimension::parse)
        .ok_or_else(|| Error::invalid("dimension", "choose what the incidents are grouped by"))?;
    let key = visit.query.raw("key").trim().to_string();
    if let Some(problem) = &problem {
        return Err(Error::from(problem).into());
    }
    let for_member = visit.member.clone();
    let wanted = key.clone();
    let drill = visit
        .state
        .db
        .report(visit.member.school_id, move |conn| {
            permit(conn, &for_member, ask.scope)?;
            build_drill(conn, for_member.school_id, ask, dimension, &wanted)
        })
        .await?;
    let body = render_drill(&ask, dimension, &drill);
    Ok(visit.page("Incidents behind a pattern", StatusCode::OK, |_| body))
}
