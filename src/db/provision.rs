//! Bespoke Provision Maps (level 6) as stored: each provision with its provider, dates, cost,
//! entry data and target, reviewed in turns of assess, plan, do, review with every turn kept;
//! and the SENDCO's whole-school map of every pupil at levels 4 to 6.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;

use super::audit::{self, AuditEntry};
use super::decisions::lock_pupil;
use super::models::{
    CoachingPlanRow, MeetingRow, ProgrammeBlockRow, ProgrammeSessionRow, ProvisionItemRow,
    ProvisionReviewRow, PupilRow,
};
use super::pastoral::PastoralPlace;
use super::programmes::fidelity_of;
use super::schema::{
    coaching_plans, forms, meetings, programme_blocks, programme_sessions, provision_items,
    provision_reviews, pupils, year_groups,
};
use super::staff::StaffMember;
use super::{to_db_time, DbConnection};
use crate::domain::calendar::{SchoolCalendar, SchoolDayCount};
use crate::domain::plan::{
    term_cost_pence, ProvisionDecision, ProvisionItem, ProvisionProgress, ProvisionReview,
    ProvisionReviewSubmission, ProvisionSubmission, DEFAULT_TERM_WEEKS,
};
use crate::domain::programme::{BlockFidelity, Fidelity, ReviewDecision};
use crate::domain::visibility::Record;
use crate::domain::Level;
use crate::error::{Error, Result};

/// Whether `member` sees the whole school's provision map: the SENDCO and SLT.
pub fn may_see_school_map(member: &StaffMember) -> bool {
    member.may_read_school(Record::SchoolProvisionMap)
}

/// Loads a pupil whose support at levels 4 to 6 `member` may see and change: their Head of
/// Year, the SENDCO or SLT.
pub fn pupil_for_support(
    conn: &mut DbConnection,
    member: &StaffMember,
    pupil_id: i64,
) -> Result<(PupilRow, i16)> {
    let (pupil, year) = lock_pupil(conn, member.school_id, pupil_id)?;
    if !member.may_read(PastoralPlace::of(&pupil, year), Record::Provision) {
        return Err(Error::Forbidden(
            "a pupil's plan, programme and provision are for their Head of Year or Head of House, the SENDCO or SLT"
                .into(),
        ));
    }
    Ok((pupil, year))
}

/// A provision item with its reviews, oldest first.
#[derive(Debug, Clone)]
pub struct ItemView {
    pub item: ProvisionItemRow,
    pub reviews: Vec<ProvisionReviewRow>,
}

impl ItemView {
    /// The cost of a term of this provision (13 weeks), in pence.
    pub fn cost_per_term_pence(&self) -> u64 {
        item_term_cost(&self.item)
    }

    /// The latest progress recorded: the outcome of an ended item, else its latest review.
    pub fn latest_progress(&self) -> Option<ProvisionProgress> {
        self.item
            .outcome
            .as_deref()
            .or_else(|| self.reviews.last().map(|r| r.progress.as_str()))
            .and_then(|p| ProvisionProgress::parse(p).ok())
    }

    /// Whether the item's review is due on or before `day` (an active item only).
    pub fn review_due_by(&self, day: NaiveDate) -> bool {
        self.item.status == "active" && self.item.review_on <= day
    }
}

fn item_term_cost(item: &ProvisionItemRow) -> u64 {
    let frequency = u32::try_from(item.frequency_per_week).unwrap_or(0);
    let cost = u32::try_from(item.cost_per_session_pence).unwrap_or(0);
    term_cost_pence(frequency, cost, DEFAULT_TERM_WEEKS).unwrap_or(0)
}

/// Adds a provision to a pupil's Bespoke Provision Map.
pub fn add_item(
    conn: &mut DbConnection,
    member: &StaffMember,
    pupil_id: i64,
    submission: &ProvisionSubmission<'_>,
    now: DateTime<Utc>,
) -> Result<ProvisionItemRow> {
    let (pupil, _) = pupil_for_support(conn, member, pupil_id)?;
    if pupil.level != Level::Provision.number() {
        return Err(Error::unprocessable(format!(
            "provision is mapped for a pupil on a Bespoke Provision Map (level 6); this pupil is at level {}",
            pupil.level
        )));
    }
    let item = ProvisionItem::parse(submission)?;
    let row: ProvisionItemRow = diesel::insert_into(provision_items::table)
        .values((
            provision_items::school_id.eq(pupil.school_id),
            provision_items::pupil_id.eq(pupil.id),
            provision_items::what.eq(&item.what),
            provision_items::external.eq(item.provider.is_external()),
            provision_items::provider_name.eq(item.provider.name()),
            provision_items::frequency_per_week.eq(item.frequency_per_week as i32),
            provision_items::session_minutes.eq(item.session_minutes as i32),
            provision_items::starts_on.eq(item.starts_on),
            provision_items::review_on.eq(item.review_on),
            provision_items::ends_on.eq(item.ends_on),
            provision_items::cost_per_session_pence.eq(i64::from(item.cost_per_session_pence)),
            provision_items::entry_data.eq(&item.entry_data),
            provision_items::target.eq(&item.target),
            provision_items::status.eq("active"),
            provision_items::created_by.eq(member.id),
            provision_items::created_at.eq(to_db_time(now)),
        ))
        .returning(provision_items::all_columns)
        .get_result(conn)?;
    audit::record(
        conn,
        AuditEntry {
            school_id: pupil.school_id,
            actor_id: Some(member.id),
            action: "provision.added",
            entity: "provision_item",
            entity_id: Some(row.id),
            detail: format!("pupil {}", pupil.id),
            at: to_db_time(now),
        },
    )?;
    Ok(row)
}

/// Loads a provision item of the member's school that they may review.
pub fn item_for(conn: &mut DbConnection, member: &StaffMember, item_id: i64) -> Result<ItemView> {
    let item: ProvisionItemRow = provision_items::table
        .filter(provision_items::id.eq(item_id))
        .filter(provision_items::school_id.eq(member.school_id))
        .select(ProvisionItemRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(Error::NotFound("provision"))?;
    pupil_for_support(conn, member, item.pupil_id)?;
    let reviews = reviews_of(conn, &[item.id])?
        .remove(&item.id)
        .unwrap_or_default();
    Ok(ItemView { item, reviews })
}

/// Records one assess-plan-do-review turn of a provision: the review is kept, the item's next
/// review date moves on, and ending the provision records its exit data and outcome.
pub fn review_item(
    conn: &mut DbConnection,
    member: &StaffMember,
    item_id: i64,
    submission: &ProvisionReviewSubmission<'_>,
    now: DateTime<Utc>,
) -> Result<ItemView> {
    let view = item_for(conn, member, item_id)?;
    if view.item.status != "active" {
        return Err(Error::Conflict {
            message: "this provision has ended; add a new one to start again".into(),
            field: None,
        });
    }
    let today = SchoolCalendar::local_date(now);
    let review = ProvisionReview::parse(submission, today, view.item.ends_on)?;
    diesel::insert_into(provision_reviews::table)
        .values((
            provision_reviews::school_id.eq(view.item.school_id),
            provision_reviews::item_id.eq(item_id),
            provision_reviews::reviewed_on.eq(today),
            provision_reviews::assessment.eq(&review.assessment),
            provision_reviews::progress.eq(review.progress.as_str()),
            provision_reviews::next_plan.eq(&review.next_plan),
            provision_reviews::decision.eq(review.decision.as_str()),
            provision_reviews::next_review_on.eq(review.next_review_on),
            provision_reviews::reviewed_by.eq(member.id),
            provision_reviews::created_at.eq(to_db_time(now)),
        ))
        .execute(conn)?;
    let target = provision_items::table.find(item_id);
    match (review.decision, review.next_review_on) {
        (ProvisionDecision::End, _) => {
            diesel::update(target)
                .set((
                    provision_items::status.eq("ended"),
                    provision_items::exit_data.eq(Some(&review.assessment)),
                    provision_items::outcome.eq(Some(review.progress.as_str())),
                    provision_items::ended_at.eq(Some(to_db_time(now))),
                ))
                .execute(conn)?;
        }
        (_, Some(next)) => {
            diesel::update(target)
                .set(provision_items::review_on.eq(next))
                .execute(conn)?;
        }
        (_, None) => return Err(Error::Internal("continuing review without a date".into())),
    }
    audit::record(
        conn,
        AuditEntry {
            school_id: view.item.school_id,
            actor_id: Some(member.id),
            action: "provision.reviewed",
            entity: "provision_item",
            entity_id: Some(item_id),
            detail: format!(
                "pupil {} {} {}",
                view.item.pupil_id,
                review.progress.as_str(),
                review.decision.as_str()
            ),
            at: to_db_time(now),
        },
    )?;
    item_for(conn, member, item_id)
}

fn reviews_of(
    conn: &mut DbConnection,
    item_ids: &[i64],
) -> Result<HashMap<i64, Vec<ProvisionReviewRow>>> {
    let rows: Vec<ProvisionReviewRow> = provision_reviews::table
        .filter(provision_reviews::item_id.eq_any(item_ids))
        .order((provision_reviews::reviewed_on, provision_reviews::id))
        .select(ProvisionReviewRow::as_select())
        .load(conn)?;
    let mut by_item: HashMap<i64, Vec<ProvisionReviewRow>> = HashMap::new();
    for row in rows {
        by_item.entry(row.item_id).or_default().push(row);
    }
    Ok(by_item)
}

/// Every provision of these pupils with its reviews, active first, then by start date.
fn items_of(conn: &mut DbConnection, school_id: i64, pupil_ids: &[i64]) -> Result<Vec<ItemView>> {
    let items: Vec<ProvisionItemRow> = provision_items::table
        .filter(provision_items::school_id.eq(school_id))
        .filter(provision_items::pupil_id.eq_any(pupil_ids))
        .order((
            provision_items::status,
            provision_items::starts_on,
            provision_items::id,
        ))
        .select(ProvisionItemRow::as_select())
        .load(conn)?;
    let ids: Vec<i64> = items.iter().map(|i| i.id).collect();
    let mut reviews = reviews_of(conn, &ids)?;
    Ok(items
        .into_iter()
        .map(|item| ItemView {
            reviews: reviews.remove(&item.id).unwrap_or_default(),
            item,
        })
        .collect())
}

/// A pupil's provision, active first.
pub fn items_for(conn: &mut DbConnection, school_id: i64, pupil_id: i64) -> Result<Vec<ItemView>> {
    items_of(conn, school_id, &[pupil_id])
}

/// The first meeting of a Bespoke Provision Map is the team meeting; once it is held (and
/// has not found the goals already met), the planning session with the pupil and their parent
/// or carer is made due. Returns the planning session when one was made.
pub(crate) fn plan_after_team_meeting(
    conn: &mut DbConnection,
    held: &MeetingRow,
    pupil: &PupilRow,
    due: SchoolDayCount,
    calendar: &SchoolCalendar,
    now: DateTime<Utc>,
) -> Result<Option<MeetingRow>> {
    let team_meeting = held.level == Level::Provision.number() && held.purpose == "level";
    if !team_meeting || held.goals_met == Some(true) {
        return Ok(None);
    }
    let planned_already: i64 = meetings::table
        .filter(meetings::pupil_id.eq(pupil.id))
        .filter(meetings::purpose.eq("planning"))
        .filter(meetings::created_at.ge(pupil.level_since))
        .count()
        .get_result(conn)?;
    if planned_already > 0 {
        return Ok(None);
    }
    let planning =
        super::decisions::create_meeting(conn, pupil, Level::Provision, due, calendar, now)?;
    let planning: MeetingRow = diesel::update(meetings::table.find(planning.id))
        .set(meetings::purpose.eq("planning"))
        .returning(meetings::all_columns)
        .get_result(conn)?;
    Ok(Some(planning))
}

// ---------------------------------------------------------------------------------------------
// The SENDCO's whole-school provision map
// ---------------------------------------------------------------------------------------------

/// Which pupils the whole-school map shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MapFilter {
    pub year: Option<i16>,
    /// 4, 5 or 6; `None` for all three.
    pub level: Option<i16>,
    pub sen_status: Option<String>,
}

/// The programme block a map row reports: the running block, else the latest one.
#[derive(Debug, Clone)]
pub struct BlockSummary {
    pub weeks: i16,
    pub status: String,
    pub decision: Option<ReviewDecision>,
    pub fidelity: BlockFidelity,
}

/// One pupil on the whole-school map.
#[derive(Debug, Clone)]
pub struct MapRow {
    pub pupil: PupilRow,
    pub year: i16,
    pub form: String,
    /// The plan in force: its version and review date.
    pub plan: Option<(i32, NaiveDate)>,
    pub block: Option<BlockSummary>,
    pub items: Vec<ItemView>,
    /// Cost of a term of the pupil's active provision, in pence.
    pub cost_per_term_pence: u64,
    /// The earliest review due: the plan's, the block's or a provision's.
    pub next_review: Option<NaiveDate>,
}

impl MapRow {
    /// Provision still running.
    pub fn active_items(&self) -> impl Iterator<Item = &ItemView> {
        self.items.iter().filter(|i| i.item.status == "active")
    }

    /// The outcome so far, in words: the provision's progress at level 6, the last block
    /// review on the programme, the plan's review otherwise.
    pub fn outcome(&self) -> String {
        if !self.items.is_empty() {
            let mut counts = [0usize; 3];
            let mut unreviewed = 0;
            for item in &self.items {
                match item.latest_progress() {
                    Some(p) => {
                        let i = ProvisionProgress::ALL
                            .iter()
                            .position(|x| *x == p)
                            .unwrap_or(2);
                        counts[i] += 1;
                    }
                    None => unreviewed += 1,
                }
            }
            let mut parts: Vec<String> = ProvisionProgress::ALL
                .iter()
                .zip(counts)
                .filter(|(_, n)| *n > 0)
                .map(|(p, n)| format!("{n} {}", p.title().to_lowercase()))
                .collect();
            if unreviewed > 0 {
                parts.push(format!("{unreviewed} not reviewed yet"));
            }
            return parts.join(", ");
        }
        match &self.block {
            Some(BlockSummary {
                decision: Some(decision),
                weeks,
                ..
            }) => format!("{weeks}-week block reviewed: {}", decision.title()),
            Some(block) if block.status == "running" => {
                format!("{}-week block running", block.weeks)
            }
            _ if self.plan.is_some() => "Coaching Plan in place".to_string(),
            _ => "No plan recorded yet".to_string(),
        }
    }
}

/// The whole-school map with its totals.
#[derive(Debug, Clone, Default)]
pub struct SchoolMap {
    pub rows: Vec<MapRow>,
    /// Cost of a term of all active provision shown, in pence.
    pub cost_per_term_pence: u64,
    /// Active provisions shown.
    pub active_items: usize,
    /// Delivered over planned across the programme blocks shown.
    pub fidelity: Fidelity,
}

/// Every pupil at levels 4 to 6 of the school that passes `filter`, by year and name, with
/// their plan, programme block, provision, costs and outcome, as of `today`.
pub fn school_map(
    conn: &mut DbConnection,
    school_id: i64,
    filter: &MapFilter,
    today: NaiveDate,
) -> Result<SchoolMap> {
    let mut query = pupils::table
        .inner_join(year_groups::table)
        .inner_join(forms::table)
        .filter(pupils::school_id.eq(school_id))
        .filter(pupils::level.ge(Level::Plan.number()))
        .filter(pupils::left_on.is_null())
        .into_boxed();
    if let Some(year) = filter.year {
        query = query.filter(year_groups::year.eq(year));
    }
    if let Some(level) = filter.level {
        query = query.filter(pupils::level.eq(level));
    }
    if let Some(sen) = &filter.sen_status {
        query = query.filter(pupils::sen_status.eq(sen.clone()));
    }
    let found: Vec<(PupilRow, i16, String)> = query
        .order((
            year_groups::year,
            pupils::family_name,
            pupils::given_name,
            pupils::id,
        ))
        .select((PupilRow::as_select(), year_groups::year, forms::name))
        .load(conn)?;
    let ids: Vec<i64> = found.iter().map(|(p, _, _)| p.id).collect();

    let mut plans: HashMap<i64, (i32, NaiveDate)> = HashMap::new();
    let plan_rows: Vec<CoachingPlanRow> = coaching_plans::table
        .filter(coaching_plans::pupil_id.eq_any(&ids))
        .order(coaching_plans::version)
        .select(CoachingPlanRow::as_select())
        .load(conn)?;
    for plan in plan_rows {
        plans.insert(plan.pupil_id, (plan.version, plan.review_on));
    }

    // The running block of each pupil, else their latest.
    let block_rows: Vec<ProgrammeBlockRow> = programme_blocks::table
        .filter(programme_blocks::pupil_id.eq_any(&ids))
        .order((programme_blocks::starts_on, programme_blocks::id))
        .select(ProgrammeBlockRow::as_select())
        .load(conn)?;
    let mut latest: HashMap<i64, ProgrammeBlockRow> = HashMap::new();
    for block in block_rows {
        let keep = latest
            .get(&block.pupil_id)
            .is_none_or(|kept| kept.status != "running");
        if keep {
            latest.insert(block.pupil_id, block);
        }
    }
    let running_ids: Vec<i64> = latest
        .values()
        .filter(|b| b.status == "running")
        .map(|b| b.id)
        .collect();
    let session_rows: Vec<ProgrammeSessionRow> = programme_sessions::table
        .filter(programme_sessions::block_id.eq_any(&running_ids))
        .select(ProgrammeSessionRow::as_select())
        .load(conn)?;
    let mut sessions: HashMap<i64, Vec<ProgrammeSessionRow>> = HashMap::new();
    for session in session_rows {
        sessions.entry(session.block_id).or_default().push(session);
    }
    let review_meetings: Vec<(i64, NaiveDate)> = meetings::table
        .filter(meetings::pupil_id.eq_any(&ids))
        .filter(meetings::status.eq_any(["due", "scheduled"]))
        .select((meetings::pupil_id, meetings::due_on))
        .load(conn)?;
    let mut meeting_due: HashMap<i64, NaiveDate> = HashMap::new();
    for (pupil_id, due_on) in review_meetings {
        let entry = meeting_due.entry(pupil_id).or_insert(due_on);
        *entry = (*entry).min(due_on);
    }

    let mut items: HashMap<i64, Vec<ItemView>> = HashMap::new();
    for item in items_of(conn, school_id, &ids)? {
        items.entry(item.item.pupil_id).or_default().push(item);
    }

    let mut map = SchoolMap::default();
    for (pupil, year, form) in found {
        let block = latest.remove(&pupil.id).map(|b| {
            let fidelity = if b.status == "running" {
                fidelity_of(sessions.get(&b.id).map_or(&[][..], Vec::as_slice), today)
            } else {
                BlockFidelity {
                    fidelity: Fidelity::new(
                        b.delivered_at_review.map_or(0, |n| n.max(0) as u32),
                        b.planned_at_review.map_or(0, |n| n.max(0) as u32),
                    ),
                    ..BlockFidelity::default()
                }
            };
            BlockSummary {
                weeks: b.weeks,
                decision: b
                    .decision
                    .as_deref()
                    .and_then(|d| ReviewDecision::parse(d).ok()),
                status: b.status,
                fidelity,
            }
        });
        let pupil_items = items.remove(&pupil.id).unwrap_or_default();
        let plan = plans.get(&pupil.id).copied();
        let cost: u64 = pupil_items
            .iter()
            .filter(|i| i.item.status == "active")
            .map(ItemView::cost_per_term_pence)
            .sum();
        let next_review = pupil_items
            .iter()
            .filter(|i| i.item.status == "active")
            .map(|i| i.item.review_on)
            .chain(
                plan.map(|(_, on)| on)
                    .filter(|_| pupil.level == Level::Plan.number()),
            )
            .chain(meeting_due.get(&pupil.id).copied())
            .min();
        map.cost_per_term_pence += cost;
        map.active_items += pupil_items
            .iter()
            .filter(|i| i.item.status == "active")
            .count();
        if let Some(b) = &block {
            map.fidelity.delivered += b.fidelity.fidelity.delivered;
            map.fidelity.planned += b.fidelity.fidelity.planned;
        }
        map.rows.push(MapRow {
            pupil,
            year,
            form,
            plan,
            block,
            items: pupil_items,
            cost_per_term_pence: cost,
            next_review,
        });
    }
    Ok(map)
}

/// What kind of review is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewKind {
    /// A Coaching Plan's review date.
    Plan,
    /// A meeting waiting to be held: a block review, a plan or provision map meeting.
    Meeting,
    /// A provision's next assess-plan-do-review turn.
    Provision,
}

/// One review due on the SENDCO's list.
#[derive(Debug, Clone)]
pub struct ReviewDue {
    pub kind: ReviewKind,
    pub pupil: PupilRow,
    pub year: i16,
    pub due_on: NaiveDate,
    /// What is reviewed, in words (no personal detail beyond the pupil).
    pub what: String,
    /// The record to open: a meeting id for meetings, the pupil id otherwise.
    pub record_id: i64,
    /// What is reviewed: the plan version's, meeting's or provision item's id.
    pub source_id: i64,
}

impl ReviewDue {
    /// Whether the review's day has passed, as of `today`.
    pub fn is_overdue(&self, today: NaiveDate) -> bool {
        self.due_on < today
    }
}

/// Reviews at levels 4 to 6 due on or before `until` (overdue ones included), soonest first.
pub fn reviews_due(
    conn: &mut DbConnection,
    school_id: i64,
    until: NaiveDate,
) -> Result<Vec<ReviewDue>> {
    let mut due = Vec::new();
    for (plan, pupil, year) in super::plans::reviews_due(conn, school_id, until)? {
        if pupil.level != Level::Plan.number() {
            continue;
        }
        due.push(ReviewDue {
            kind: ReviewKind::Plan,
            record_id: pupil.id,
            source_id: plan.row.id,
            due_on: plan.row.review_on,
            what: format!("Coaching Plan (version {})", plan.row.version),
            pupil,
            year,
        });
    }
    let waiting: Vec<(MeetingRow, PupilRow, i16)> = meetings::table
        .inner_join(pupils::table.inner_join(year_groups::table))
        .filter(meetings::school_id.eq(school_id))
        .filter(meetings::level.ge(Level::Plan.number()))
        .filter(meetings::status.eq_any(["due", "scheduled"]))
        .select((
            MeetingRow::as_select(),
            PupilRow::as_select(),
            year_groups::year,
        ))
        .load(conn)?;
    for (meeting, pupil, year) in waiting {
        // The day a meeting is expected on: the day it is booked for, else its due day (a
        // meeting booked late is not overdue before its day; see `MeetingState`).
        let expected_on = meeting.booked_on().unwrap_or(meeting.due_on);
        if expected_on > until {
            continue;
        }
        let what = match (meeting.level, meeting.purpose.as_str()) {
            (6, "planning") => "Provision planning session".to_string(),
            (6, _) => "Bespoke Provision Map team meeting".to_string(),
            (5, _) => "Programme block review".to_string(),
            _ => "Coaching Plan meeting".to_string(),
        };
        due.push(ReviewDue {
            kind: ReviewKind::Meeting,
            record_id: meeting.id,
            source_id: meeting.id,
            due_on: expected_on,
            what,
            pupil,
            year,
        });
    }
    let items: Vec<(ProvisionItemRow, PupilRow, i16)> = provision_items::table
        .inner_join(pupils::table.inner_join(year_groups::table))
        .filter(provision_items::school_id.eq(school_id))
        .filter(provision_items::status.eq("active"))
        .filter(provision_items::review_on.le(until))
        .select((
            ProvisionItemRow::as_select(),
            PupilRow::as_select(),
            year_groups::year,
        ))
        .load(conn)?;
    for (item, pupil, year) in items {
        due.push(ReviewDue {
            kind: ReviewKind::Provision,
            record_id: pupil.id,
            source_id: item.id,
            due_on: item.review_on,
            what: format!("Provision: {}", item.what),
            pupil,
            year,
        });
    }
    due.sort_by_key(|d| (d.due_on, d.pupil.id));
    Ok(due)
}
