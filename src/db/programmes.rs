//! The Coaching Programme (level 5) as stored: each block planned with its sessions, each
//! session recorded as it happens, and the block review that decides the next step. Fidelity
//! is always worked out from the sessions by the domain, never stored as a figure that could
//! drift, except the snapshot taken when a block is reviewed.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc, Weekday};
use diesel::prelude::*;

use super::audit::{self, AuditEntry};
use super::decisions::{self, lock_pupil};
use super::evaluation::{pupil_state, SchoolRules};
use super::models::{MeetingRow, ProgrammeBlockRow, ProgrammeSessionRow, PupilRow};
use super::notices::NoticeContext;
use super::pastoral::PastoralPlace;
use super::schema::{meetings, programme_blocks, programme_sessions, pupils};
use super::staff::{self, StaffMember};
use super::{plans, to_db_time, DbConnection};
use crate::domain::calendar::SchoolCalendar;
use crate::domain::details::optional_text;
use crate::domain::level::ProgrammeBlock;
use crate::domain::plan::MAX_NAME_CHARS;
use crate::domain::programme::{
    block_fidelity, plan_sessions, review_events, BlockFidelity, BlockReview, ReviewDecision,
    SessionEntry, SessionLead, SessionOutcome, SessionPlace, SessionPlanRequest, SessionRecord,
    SessionSetting,
};
use crate::domain::visibility::Record;
use crate::domain::{Level, Role};
use crate::error::{Error, Result};

/// A block with its sessions and its fidelity as of the day it was loaded.
#[derive(Debug, Clone)]
pub struct BlockView {
    pub block: ProgrammeBlockRow,
    pub sessions: Vec<ProgrammeSessionRow>,
    pub fidelity: BlockFidelity,
}

impl BlockView {
    /// The block's length as the domain knows it.
    pub fn programme_block(&self) -> Result<ProgrammeBlock> {
        block_of(&self.block)
    }

    /// The final session, whose end the parent or carer attends.
    pub fn final_session(&self) -> Option<&ProgrammeSessionRow> {
        self.sessions.iter().find(|s| s.is_final)
    }
}

fn block_of(row: &ProgrammeBlockRow) -> Result<ProgrammeBlock> {
    ProgrammeBlock::from_weeks(i64::from(row.weeks)).map_err(|e| Error::Internal(e.to_string()))
}

/// The stored three-letter name of a weekday.
fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "mon",
        Weekday::Tue => "tue",
        Weekday::Wed => "wed",
        Weekday::Thu => "thu",
        Weekday::Fri => "fri",
        Weekday::Sat => "sat",
        Weekday::Sun => "sun",
    }
}

/// Reads a weekday as stored or submitted (`mon` ... `fri`, any case).
pub fn parse_weekday(raw: &str) -> Result<Weekday> {
    raw.trim()
        .parse::<Weekday>()
        .map_err(|_| Error::invalid("weekdays", format!("{raw:?} is not a day of the week")))
}

/// What happened at a session, as stored.
fn entry_of(session: &ProgrammeSessionRow) -> SessionEntry {
    SessionEntry {
        on: session.on_date,
        outcome: session
            .outcome
            .as_deref()
            .and_then(|o| SessionOutcome::parse(o).ok()),
    }
}

/// The fidelity of a block's sessions on `today`.
pub fn fidelity_of(sessions: &[ProgrammeSessionRow], today: NaiveDate) -> BlockFidelity {
    block_fidelity(sessions.iter().map(entry_of), today)
}

fn sessions_of(conn: &mut DbConnection, block_id: i64) -> Result<Vec<ProgrammeSessionRow>> {
    Ok(programme_sessions::table
        .filter(programme_sessions::block_id.eq(block_id))
        .order((programme_sessions::on_date, programme_sessions::id))
        .select(ProgrammeSessionRow::as_select())
        .load(conn)?)
}

fn view_of(
    conn: &mut DbConnection,
    block: ProgrammeBlockRow,
    today: NaiveDate,
) -> Result<BlockView> {
    let sessions = sessions_of(conn, block.id)?;
    let fidelity = fidelity_of(&sessions, today);
    Ok(BlockView {
        block,
        sessions,
        fidelity,
    })
}

/// Every block of a pupil's programmes, newest first, with sessions and fidelity on `today`.
pub fn blocks_for(
    conn: &mut DbConnection,
    school_id: i64,
    pupil_id: i64,
    today: NaiveDate,
) -> Result<Vec<BlockView>> {
    let blocks: Vec<ProgrammeBlockRow> = programme_blocks::table
        .filter(programme_blocks::school_id.eq(school_id))
        .filter(programme_blocks::pupil_id.eq(pupil_id))
        .order((
            programme_blocks::starts_on.desc(),
            programme_blocks::id.desc(),
        ))
        .select(ProgrammeBlockRow::as_select())
        .load(conn)?;
    blocks
        .into_iter()
        .map(|block| view_of(conn, block, today))
        .collect()
}

/// The block a pupil is running now, if one is planned.
pub fn running_block(
    conn: &mut DbConnection,
    pupil_id: i64,
    today: NaiveDate,
) -> Result<Option<BlockView>> {
    let block: Option<ProgrammeBlockRow> = programme_blocks::table
        .filter(programme_blocks::pupil_id.eq(pupil_id))
        .filter(programme_blocks::status.eq("running"))
        .select(ProgrammeBlockRow::as_select())
        .first(conn)
        .optional()?;
    block.map(|b| view_of(conn, b, today)).transpose()
}

/// The block a pupil of the school is due to run now, as their record says (`None` off the
/// programme).
pub fn block_due(
    conn: &mut DbConnection,
    school_id: i64,
    pupil_id: i64,
) -> Result<Option<ProgrammeBlock>> {
    let row: PupilRow = pupils::table
        .filter(pupils::id.eq(pupil_id))
        .filter(pupils::school_id.eq(school_id))
        .select(PupilRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(Error::NotFound("pupil"))?;
    Ok(pupil_state(&row).current_block())
}

/// The pupil a block of the school belongs to.
pub fn pupil_of_block(conn: &mut DbConnection, school_id: i64, block_id: i64) -> Result<i64> {
    programme_blocks::table
        .filter(programme_blocks::id.eq(block_id))
        .filter(programme_blocks::school_id.eq(school_id))
        .select(programme_blocks::pupil_id)
        .first(conn)
        .optional()?
        .ok_or(Error::NotFound("programme block"))
}

/// A block's sessions as asked for at the Coaching Plan meeting or a block review.
#[derive(Debug, Clone)]
pub struct BlockRequest<'a> {
    pub pupil_id: i64,
    pub starts_on: Option<NaiveDate>,
    pub sessions_per_week: u32,
    pub weekdays: &'a [Weekday],
    pub minutes: u32,
    pub time: Option<NaiveTime>,
    /// `in_school` or `at_home`.
    pub place: &'a str,
    /// `specialist_staff`, `external_professional`, `parent_carer` or `coach`.
    pub led_by: &'a str,
    /// The specialist practitioner on the staff who runs the sessions in school.
    pub practitioner_id: Option<i64>,
    /// Who runs them otherwise: the outside professional, parent or carer, or coach.
    pub practitioner_name: Option<&'a str>,
}

/// Loads a pupil on the programme that `member` may run the programme of.
fn programme_pupil(
    conn: &mut DbConnection,
    member: &StaffMember,
    pupil_id: i64,
) -> Result<(PupilRow, i16)> {
    let (pupil, year) = lock_pupil(conn, member.school_id, pupil_id)?;
    if !member.may_read(PastoralPlace::of(&pupil, year), Record::Programme) {
        return Err(Error::Forbidden(
            "the Coaching Programme is planned and reviewed by the pupil's Head of Year or Head of House, the SENDCO or SLT".into(),
        ));
    }
    if pupil.level != Level::Programme.number() {
        return Err(Error::unprocessable(format!(
            "this pupil is not on a Coaching Programme (level {})",
            pupil.level
        )));
    }
    Ok((pupil, year))
}

/// Checks who runs the sessions: a specialist practitioner on the school's staff in school,
/// anyone else by name.
fn who_runs(
    conn: &mut DbConnection,
    school_id: i64,
    setting: SessionSetting,
    request: &BlockRequest<'_>,
) -> Result<(Option<i64>, Option<String>)> {
    if setting.lead() == SessionLead::SpecialistStaff {
        let id = request.practitioner_id.ok_or_else(|| {
            Error::invalid(
                "practitioner_id",
                "choose the specialist practitioner who runs the sessions",
            )
        })?;
        let member = staff::get_member(conn, school_id, id)?
            .ok_or_else(|| Error::invalid("practitioner_id", "no such member of staff"))?;
        if !member.has_any_role(&[Role::Specialist, Role::Sendco]) {
            return Err(Error::invalid(
                "practitioner_id",
                format!("{} is not a specialist practitioner", member.name),
            ));
        }
        return Ok((Some(id), None));
    }
    let name = optional_text(
        "practitioner_name",
        request.practitioner_name,
        MAX_NAME_CHARS,
    )?
    .ok_or_else(|| {
        Error::invalid(
            "practitioner_name",
            format!(
                "name the {} who runs the sessions",
                setting.lead().title().to_lowercase()
            ),
        )
    })?;
    Ok((None, Some(name)))
}

/// Plans the pupil's current block: the sessions laid out on school days at the asked
/// frequency, the final one marked, and the block review made due on the final session's day.
/// A block is planned once; a pupil moves to the next block through its review.
pub fn plan_block(
    conn: &mut DbConnection,
    member: &StaffMember,
    request: &BlockRequest<'_>,
    rules: &SchoolRules,
    now: DateTime<Utc>,
) -> Result<BlockView> {
    let (pupil, _) = programme_pupil(conn, member, request.pupil_id)?;
    let today = SchoolCalendar::local_date(now);
    let block = pupil_state(&pupil)
        .current_block()
        .ok_or_else(|| Error::Internal("programme pupil without a block".into()))?;
    if let Some(running) = running_block(conn, pupil.id, today)? {
        return Err(Error::Conflict {
            message: format!(
                "the {}-week block starting {} is already planned; it moves on at its review",
                running.block.weeks,
                running.block.starts_on.format("%-d %B")
            ),
            field: None,
        });
    }
    let plan = plans::current(conn, pupil.school_id, pupil.id)?.ok_or_else(|| {
        Error::unprocessable("agree the Coaching Plan first: the programme works on its goals")
    })?;
    let setting = SessionSetting::new(
        SessionPlace::parse(request.place)?,
        SessionLead::parse(request.led_by)?,
    )?;
    let starts_on = request
        .starts_on
        .ok_or_else(|| Error::invalid("starts_on", "choose the block's first day"))?;
    if starts_on < today {
        return Err(Error::invalid(
            "starts_on",
            "the block cannot start in the past",
        ));
    }
    let schedule = plan_sessions(
        &SessionPlanRequest {
            block,
            starts_on,
            sessions_per_week: request.sessions_per_week,
            weekdays: request.weekdays,
            minutes: request.minutes,
            time: request.time,
            setting,
        },
        &rules.calendar,
        &rules.policy,
    )?;
    let (practitioner_id, practitioner_name) = who_runs(conn, pupil.school_id, setting, request)?;
    let join_dates = |dates: &mut dyn Iterator<Item = String>| dates.collect::<Vec<_>>().join(",");
    let weekdays = join_dates(&mut schedule.weekdays.iter().map(|d| weekday_name(*d).into()));
    let lost = join_dates(&mut schedule.lost_to_closures.iter().map(|d| d.to_string()));
    let time = request.time.map(|t| t.format("%H:%M").to_string());
    let row: ProgrammeBlockRow = diesel::insert_into(programme_blocks::table)
        .values((
            programme_blocks::school_id.eq(pupil.school_id),
            programme_blocks::pupil_id.eq(pupil.id),
            programme_blocks::plan_id.eq(Some(plan.row.id)),
            programme_blocks::weeks.eq(block.weeks() as i16),
            programme_blocks::starts_on.eq(schedule.starts_on),
            programme_blocks::ends_on.eq(schedule.ends_on),
            programme_blocks::sessions_per_week.eq(schedule.sessions_per_week as i32),
            programme_blocks::weekdays.eq(weekdays),
            programme_blocks::minutes.eq(schedule.minutes as i32),
            programme_blocks::session_time.eq(&time),
            programme_blocks::place.eq(setting.place().as_str()),
            programme_blocks::led_by.eq(setting.lead().as_str()),
            programme_blocks::practitioner_id.eq(practitioner_id),
            programme_blocks::practitioner_name.eq(practitioner_name),
            programme_blocks::lost_to_closures.eq(lost),
            programme_blocks::status.eq("running"),
            programme_blocks::created_by.eq(member.id),
            programme_blocks::created_at.eq(to_db_time(now)),
        ))
        .returning(programme_blocks::all_columns)
        .get_result(conn)?;
    let last = schedule.sessions.len().saturating_sub(1);
    for (i, session) in schedule.sessions.iter().enumerate() {
        diesel::insert_into(programme_sessions::table)
            .values((
                programme_sessions::school_id.eq(pupil.school_id),
                programme_sessions::block_id.eq(row.id),
                programme_sessions::pupil_id.eq(pupil.id),
                programme_sessions::on_date.eq(session.on),
                programme_sessions::session_time.eq(&time),
                programme_sessions::is_final.eq(i == last),
            ))
            .execute(conn)?;
    }
    // The review falls on the final session's day; a review already booked keeps its time.
    // The date is now the session's, no longer counted in school days: sessions stay where
    // they are when the calendar changes, and so does the review.
    if let Some(final_session) = schedule.final_session() {
        diesel::update(
            meetings::table
                .filter(meetings::pupil_id.eq(pupil.id))
                .filter(meetings::level.eq(Level::Programme.number()))
                .filter(meetings::status.eq("due")),
        )
        .set((
            meetings::due_on.eq(final_session.on),
            meetings::due_from.eq(None::<NaiveDate>),
            meetings::due_school_days.eq(None::<i32>),
        ))
        .execute(conn)?;
    }
    audit::record(
        conn,
        AuditEntry {
            school_id: pupil.school_id,
            actor_id: Some(member.id),
            action: "programme.block_planned",
            entity: "programme_block",
            entity_id: Some(row.id),
            detail: format!(
                "pupil {} {}-week block, {} sessions",
                pupil.id,
                block.weeks(),
                schedule.sessions.len()
            ),
            at: to_db_time(now),
        },
    )?;
    view_of(conn, row, today)
}

/// What is recorded for a session, as submitted.
#[derive(Debug, Clone, Copy, Default)]
pub struct SessionInput<'a> {
    /// `delivered`, `pupil_absent` or `not_delivered`.
    pub outcome: &'a str,
    pub minutes: Option<u32>,
    pub reason: Option<&'a str>,
    /// A short note against the plan's goals.
    pub note: Option<&'a str>,
    /// Who ran it, when not the person recording (e.g. a parent at home).
    pub delivered_by: Option<&'a str>,
    /// Whether the parent or carer attended the end of the final session.
    pub parent_attended: Option<bool>,
}

/// A session with its block and pupil, loaded for someone who may record it.
#[derive(Debug, Clone)]
pub struct SessionView {
    pub session: ProgrammeSessionRow,
    pub block: ProgrammeBlockRow,
    pub pupil: PupilRow,
}

/// Whether `member` may see and record a block's sessions: the practitioner who runs them,
/// or those who run the pupil's programme.
fn may_record(member: &StaffMember, block: &ProgrammeBlockRow, place: PastoralPlace) -> bool {
    member.may_read_of_programme(place, Record::Session, block.practitioner_id)
}

/// Loads a session of the member's school that they may record.
pub fn session_for(
    conn: &mut DbConnection,
    member: &StaffMember,
    session_id: i64,
) -> Result<SessionView> {
    let found: Option<(ProgrammeSessionRow, ProgrammeBlockRow)> = programme_sessions::table
        .inner_join(programme_blocks::table)
        .filter(programme_sessions::id.eq(session_id))
        .filter(programme_sessions::school_id.eq(member.school_id))
        .select((
            ProgrammeSessionRow::as_select(),
            ProgrammeBlockRow::as_select(),
        ))
        .first(conn)
        .optional()?;
    let (session, block) = found.ok_or(Error::NotFound("session"))?;
    let (pupil, year) = lock_pupil(conn, member.school_id, session.pupil_id)?;
    if !may_record(member, &block, PastoralPlace::of(&pupil, year)) {
        return Err(Error::Forbidden(
            "sessions are recorded by the practitioner who runs them, the Head of Year or Head of House, the SENDCO or SLT".into(),
        ));
    }
    Ok(SessionView {
        session,
        block,
        pupil,
    })
}

/// Records what happened at a session (or corrects what was recorded) while its block runs.
pub fn record_session(
    conn: &mut DbConnection,
    member: &StaffMember,
    session_id: i64,
    input: &SessionInput<'_>,
    now: DateTime<Utc>,
) -> Result<ProgrammeSessionRow> {
    let view = session_for(conn, member, session_id)?;
    let outcome = SessionOutcome::parse(input.outcome)?;
    let record = SessionRecord::parse(outcome, input.minutes, input.reason, input.note)?;
    let delivered_by = match outcome {
        SessionOutcome::Delivered => Some(
            optional_text("delivered_by", input.delivered_by, MAX_NAME_CHARS)?
                .unwrap_or_else(|| member.name.clone()),
        ),
        _ => None,
    };
    let parent_attended = (view.session.is_final && outcome.is_delivered())
        .then(|| input.parent_attended.unwrap_or(false));
    store_session(
        conn,
        &view.block,
        &view.session,
        &record,
        delivered_by,
        parent_attended,
        Recorder::Staff(member),
        now,
    )
}

/// The parent, carer or coach recording a session at home through their family link.
#[derive(Debug, Clone, Copy)]
pub struct FamilyRecorder<'a> {
    pub link_id: i64,
    pub name: &'a str,
}

/// Who records a session.
#[derive(Debug, Clone, Copy)]
enum Recorder<'a> {
    Staff(&'a StaffMember),
    Family(FamilyRecorder<'a>),
}

/// Records a session of a block delivered at home, as checked by the domain, through a
/// family link: the same columns and the same rules as staff recording (the block still runs,
/// the session's day has come), with the link as who recorded it.
pub fn record_by_family(
    conn: &mut DbConnection,
    session: &ProgrammeSessionRow,
    record: SessionRecord,
    recorder: FamilyRecorder<'_>,
    now: DateTime<Utc>,
) -> Result<ProgrammeSessionRow> {
    let block: ProgrammeBlockRow = programme_blocks::table
        .find(session.block_id)
        .select(ProgrammeBlockRow::as_select())
        .get_result(conn)?;
    let delivered_by = record
        .outcome
        .is_delivered()
        .then(|| recorder.name.chars().take(MAX_NAME_CHARS).collect());
    let parent_attended = (session.is_final && record.outcome.is_delivered()).then_some(true);
    store_session(
        conn,
        &block,
        session,
        &record,
        delivered_by,
        parent_attended,
        Recorder::Family(recorder),
        now,
    )
}

/// Stores a checked session record while its block runs and its day has come, and audits it.
#[allow(clippy::too_many_arguments)]
fn store_session(
    conn: &mut DbConnection,
    block: &ProgrammeBlockRow,
    session: &ProgrammeSessionRow,
    record: &SessionRecord,
    delivered_by: Option<String>,
    parent_attended: Option<bool>,
    recorder: Recorder<'_>,
    now: DateTime<Utc>,
) -> Result<ProgrammeSessionRow> {
    if block.status != "running" {
        return Err(Error::Conflict {
            message: "this block has been reviewed; its sessions can no longer change".into(),
            field: None,
        });
    }
    let today = SchoolCalendar::local_date(now);
    if session.on_date > today {
        return Err(Error::unprocessable(format!(
            "this session is on {}; record it on the day",
            session.on_date.format("%A %-d %B")
        )));
    }
    let outcome = record.outcome;
    let (recorded_by, recorded_by_family) = match recorder {
        Recorder::Staff(member) => (Some(member.id), None),
        Recorder::Family(family) => (None, Some(family.link_id)),
    };
    let row: ProgrammeSessionRow = diesel::update(programme_sessions::table.find(session.id))
        .set((
            programme_sessions::outcome.eq(Some(outcome.as_str())),
            programme_sessions::minutes.eq(record.minutes.map(|m| m as i32)),
            programme_sessions::delivered_by.eq(delivered_by),
            programme_sessions::note.eq(record.note.clone()),
            programme_sessions::reason.eq(record.reason.clone()),
            programme_sessions::parent_attended.eq(parent_attended),
            programme_sessions::recorded_by.eq(recorded_by),
            programme_sessions::recorded_at.eq(Some(to_db_time(now))),
            programme_sessions::recorded_by_family.eq(recorded_by_family),
        ))
        .returning(programme_sessions::all_columns)
        .get_result(conn)?;
    let action = if session.outcome.is_some() {
        "programme.session_corrected"
    } else {
        "programme.session_recorded"
    };
    let detail = match recorder {
        Recorder::Staff(_) => format!("pupil {} {}", session.pupil_id, outcome.as_str()),
        Recorder::Family(family) => format!(
            "pupil {} {} at home, through family link {}",
            session.pupil_id,
            outcome.as_str(),
            family.link_id
        ),
    };
    audit::record(
        conn,
        AuditEntry {
            school_id: block.school_id,
            actor_id: recorded_by,
            action,
            entity: "programme_session",
            entity_id: Some(session.id),
            detail,
            at: to_db_time(now),
        },
    )?;
    Ok(row)
}

/// A block review as decided at its meeting.
#[derive(Debug, Clone, Copy)]
pub struct ReviewInput<'a> {
    /// `goals_met`, `next_block` or `provision_map`.
    pub decision: &'a str,
    /// Why moving on is right despite low fidelity, or why a provision map comes early.
    pub reason: Option<&'a str>,
    /// A short summary of the review meeting.
    pub summary: &'a str,
    pub held_at: DateTime<Utc>,
}

/// What a block review changed.
#[derive(Debug, Clone)]
pub struct ReviewResult {
    pub block: ProgrammeBlockRow,
    pub fidelity: BlockFidelity,
    pub decision: ReviewDecision,
    /// The pupil's next meeting: the next block's review, the Coaching Plan review after
    /// stepping down, or the provision map's team meeting.
    pub next_meeting: Option<MeetingRow>,
}

/// The role a member decides a review as: the one with most say over the sequence.
fn deciding_role(member: &StaffMember) -> Role {
    [Role::Slt, Role::Sendco]
        .into_iter()
        .find(|r| member.has_role(*r))
        .unwrap_or(Role::PastoralLead)
}

/// Records a block review: the block's fidelity is fixed as it stands, the review meeting is
/// recorded as held, and the decision is carried out through the state machine (step down
/// to the Coaching Plan, the next block, or a Bespoke Provision Map), with the meeting that
/// follows made due and announced.
pub fn review_block(
    conn: &mut DbConnection,
    member: &StaffMember,
    context: &NoticeContext,
    block_id: i64,
    input: &ReviewInput<'_>,
    rules: &SchoolRules,
    now: DateTime<Utc>,
) -> Result<ReviewResult> {
    let block: ProgrammeBlockRow = programme_blocks::table
        .filter(programme_blocks::id.eq(block_id))
        .filter(programme_blocks::school_id.eq(member.school_id))
        .select(ProgrammeBlockRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(Error::NotFound("programme block"))?;
    let (pupil, _) = programme_pupil(conn, member, block.pupil_id)?;
    if block.status != "running" {
        return Err(Error::Conflict {
            message: "this block has already been reviewed".into(),
            field: None,
        });
    }
    if input.held_at > now + chrono::TimeDelta::minutes(5) {
        return Err(Error::invalid(
            "held_at",
            "a review cannot be held in the future",
        ));
    }
    let summary = decisions::checked_reason("summary", input.summary)?;
    let today = SchoolCalendar::local_date(now);
    let view = view_of(conn, block, today)?;
    let decision = ReviewDecision::parse(input.decision)
        .map_err(|e| Error::invalid(e.field(), e.to_string()))?;
    let events = review_events(&BlockReview {
        block: view.programme_block()?,
        decision,
        fidelity: view.fidelity.fidelity,
        decided_by: deciding_role(member),
        reason: input.reason,
    })
    .map_err(|e| Error::invalid(e.field(), e.to_string()))?;
    let reason = input
        .reason
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_string);
    let reviewed: ProgrammeBlockRow = diesel::update(programme_blocks::table.find(block_id))
        .set((
            programme_blocks::status.eq("reviewed"),
            programme_blocks::decision.eq(Some(decision.as_str())),
            programme_blocks::decision_reason.eq(&reason),
            programme_blocks::delivered_at_review.eq(Some(view.fidelity.fidelity.delivered as i32)),
            programme_blocks::planned_at_review.eq(Some(view.fidelity.fidelity.planned as i32)),
            programme_blocks::reviewed_at.eq(Some(to_db_time(now))),
            programme_blocks::reviewed_by.eq(Some(member.id)),
        ))
        .returning(programme_blocks::all_columns)
        .get_result(conn)?;
    // The block's review meeting, if one is waiting, is the meeting this review was held in.
    let held_at = to_db_time(input.held_at.min(now));
    diesel::update(
        meetings::table
            .filter(meetings::pupil_id.eq(pupil.id))
            .filter(meetings::level.eq(Level::Programme.number()))
            .filter(meetings::status.eq_any(["due", "scheduled"])),
    )
    .set((
        meetings::status.eq("held"),
        meetings::held_at.eq(Some(held_at)),
        meetings::summary.eq(Some(&summary)),
        meetings::goals_met.eq(Some(decision == ReviewDecision::GoalsMet)),
    ))
    .execute(conn)?;
    let is_override = events
        .iter()
        .any(|e| matches!(e, crate::domain::transition::Event::Override { .. }));
    let move_reason = match (&reason, decision) {
        (Some(reason), _) => format!("{} Block review: {reason}", decision.title()),
        (None, _) => format!("{} (block review)", decision.title()),
    };
    let (_, next_meeting) = decisions::apply_events(
        conn,
        decisions::EventsToApply {
            pupil: &pupil,
            events: &events,
            by: member,
            reason: move_reason,
            is_override,
        },
        rules,
        context,
        now,
    )?;
    audit::record(
        conn,
        AuditEntry {
            school_id: pupil.school_id,
            actor_id: Some(member.id),
            action: "programme.block_reviewed",
            entity: "programme_block",
            entity_id: Some(block_id),
            detail: format!(
                "pupil {} {} at {}",
                pupil.id,
                decision.as_str(),
                view.fidelity.fidelity
            ),
            at: to_db_time(now),
        },
    )?;
    Ok(ReviewResult {
        block: reviewed,
        fidelity: view.fidelity,
        decision,
        next_meeting,
    })
}

/// Closes a pupil's running block that is left without a block review (the pupil moved by a
/// decision elsewhere), so a new block can be planned and fidelity stays with the old one.
pub(crate) fn end_running_block(
    conn: &mut DbConnection,
    pupil_id: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    diesel::update(
        programme_blocks::table
            .filter(programme_blocks::pupil_id.eq(pupil_id))
            .filter(programme_blocks::status.eq("running")),
    )
    .set((
        programme_blocks::status.eq("ended"),
        programme_blocks::reviewed_at.eq(Some(to_db_time(now))),
    ))
    .execute(conn)?;
    Ok(())
}

/// A session on a practitioner's list, with its block and pupil.
#[derive(Debug, Clone)]
pub struct PractitionerSession {
    pub session: ProgrammeSessionRow,
    pub block: ProgrammeBlockRow,
    pub pupil: PupilRow,
}

/// The sessions `member` runs from `from` to `to` (inclusive) in blocks still running, by day
/// and time: the specialist practitioner's day and week.
pub fn sessions_run_by(
    conn: &mut DbConnection,
    member: &StaffMember,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<PractitionerSession>> {
    let rows: Vec<(ProgrammeSessionRow, ProgrammeBlockRow, PupilRow)> = programme_sessions::table
        .inner_join(programme_blocks::table)
        .inner_join(pupils::table)
        .filter(programme_sessions::school_id.eq(member.school_id))
        .filter(programme_blocks::practitioner_id.eq(member.id))
        .filter(programme_blocks::status.eq("running"))
        .filter(programme_sessions::on_date.between(from, to))
        .order((
            programme_sessions::on_date,
            programme_sessions::session_time,
            programme_sessions::id,
        ))
        .select((
            ProgrammeSessionRow::as_select(),
            ProgrammeBlockRow::as_select(),
            PupilRow::as_select(),
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(session, block, pupil)| PractitionerSession {
            session,
            block,
            pupil,
        })
        .collect())
}

/// The school's specialist practitioners (and the SENDCO), who can be chosen to run sessions
/// in school, by name.
pub fn practitioners(conn: &mut DbConnection, school_id: i64) -> Result<Vec<StaffMember>> {
    let mut found = staff::list(conn, school_id, Some(Role::Specialist))?;
    for member in staff::list(conn, school_id, Some(Role::Sendco))? {
        if found.iter().all(|m| m.id != member.id) {
            found.push(member);
        }
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}
