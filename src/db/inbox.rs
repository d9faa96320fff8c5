//! The pastoral lead's inbox: the open suggestions a member of staff may decide, most urgent
//! first, each with its pupil and the incidents behind it.
//!
//! Who sees what follows [`super::decisions::may_decide`]: a pastoral lead the pupils of the
//! year groups and houses they lead ([`super::pastoral`]); the SENDCO every suggestion to or from levels 4-6; SLT all; a
//! member with several roles the union. A suggestion snoozed until a later date is hidden
//! until then, unless asked for.
//!
//! Bounded: one query for the suggestions (at most [`INBOX_LIMIT`]), one for their pupils and
//! one for the evidence incidents of them all, whatever the number listed.

use std::cmp::Reverse;
use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;

use super::models::{LevelChangeRow, MeetingRow, SuggestionRow};
use super::pastoral::Led;
use super::pupils::{self, PupilView};
use super::schema::{incidents, level_changes, meetings, staff, suggestions};
use super::staff::StaffMember;
use super::{from_db_time, DbConnection};
use crate::domain::{Level, Role};
use crate::error::Result;

/// Most suggestions one inbox lists.
pub const INBOX_LIMIT: i64 = 200;

/// Most evidence incidents loaded for one suggestion.
pub const EVIDENCE_PER_SUGGESTION: usize = 10;

/// Which suggestions a member may see: everything (SLT), or the union of the pupils of some
/// year groups and houses (a pastoral lead's) and the upper levels (the SENDCO's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxScope {
    /// Every suggestion of the school.
    pub all: bool,
    /// The year groups and houses led, when any.
    pub led: Led,
    /// Suggestions to or from levels 4-6.
    pub upper_levels: bool,
}

impl InboxScope {
    /// The scope of `member`'s roles.
    pub fn of(member: &StaffMember) -> InboxScope {
        InboxScope {
            all: member.has_role(Role::Slt),
            led: Led::of(member),
            upper_levels: member.has_role(Role::Sendco),
        }
    }

    /// Whether the scope covers nothing at all (a pastoral lead with no year group or house
    /// yet).
    pub fn is_empty(&self) -> bool {
        !self.all && self.led.is_empty() && !self.upper_levels
    }
}

/// Whether `member` has an inbox at all: pastoral leads, the SENDCO and SLT.
pub fn has_inbox(member: &StaffMember) -> bool {
    member.has_any_role(&INBOX_ROLES)
}

/// The roles that decide suggestions and so have an inbox.
pub const INBOX_ROLES: [Role; 3] = [Role::PastoralLead, Role::Sendco, Role::Slt];

/// An incident quoted as evidence, as the inbox shows it.
#[derive(Debug, Clone)]
pub struct EvidenceIncident {
    pub id: i64,
    pub occurred_at: DateTime<Utc>,
    pub behaviour: String,
    /// "minor" or "serious".
    pub severity: String,
    /// Undone by its author since the suggestion was made.
    pub undone: bool,
}

impl EvidenceIncident {
    /// Whether the incident was serious (and still counts).
    pub fn is_serious(&self) -> bool {
        self.severity == "serious" && !self.undone
    }
}

/// One open suggestion with what the inbox shows about it.
#[derive(Debug, Clone)]
pub struct InboxItem {
    pub suggestion: SuggestionRow,
    pub pupil: PupilView,
    pub from: Level,
    pub to: Level,
    /// The evidence incidents found, oldest first (at most [`EVIDENCE_PER_SUGGESTION`]).
    pub evidence: Vec<EvidenceIncident>,
    /// How many incidents the suggestion names as evidence in all.
    pub evidence_count: usize,
    /// Snoozed until a date after today (listed only when snoozed ones are asked for).
    pub snoozed_until: Option<NaiveDate>,
}

impl InboxItem {
    /// Whether the suggestion moves the pupil down (a step down or closing support).
    pub fn is_step_down(&self) -> bool {
        self.to < self.from
    }

    /// Whether a serious incident is among the evidence.
    pub fn has_serious_evidence(&self) -> bool {
        self.evidence.iter().any(EvidenceIncident::is_serious)
    }
}

/// What to list.
#[derive(Debug, Clone, Copy)]
pub struct InboxQuery {
    /// The school's date today: a suggestion snoozed until after it is hidden.
    pub today: NaiveDate,
    /// List the snoozed suggestions too.
    pub show_snoozed: bool,
    /// Most suggestions listed (capped at [`INBOX_LIMIT`]).
    pub limit: i64,
}

/// A member's inbox.
#[derive(Debug, Clone, Default)]
pub struct Inbox {
    /// The suggestions listed, most urgent first.
    pub items: Vec<InboxItem>,
    /// Open suggestions in scope that are not snoozed.
    pub open: i64,
    /// Open suggestions in scope snoozed until after today.
    pub snoozed: i64,
}

impl Inbox {
    /// Whether more suggestions wait than are listed.
    pub fn is_truncated(&self, show_snoozed: bool) -> bool {
        let waiting = if show_snoozed {
            self.open + self.snoozed
        } else {
            self.open
        };
        i64::try_from(self.items.len()).unwrap_or(i64::MAX) < waiting
    }
}

/// The open suggestions of the school, joined to the pupil's year group, limited to `scope`.
fn scoped(
    school_id: i64,
    scope: &InboxScope,
) -> suggestions::BoxedQuery<'static, crate::db::MultiBackend> {
    visible_to(school_id, scope).filter(suggestions::status.eq("open"))
}

/// The school's suggestions, whatever their status, that fall in `scope`.
pub fn visible_to(
    school_id: i64,
    scope: &InboxScope,
) -> suggestions::BoxedQuery<'static, crate::db::MultiBackend> {
    let led_pupils = scope.led.pupil_ids(school_id);
    let upper = Level::Plan.number();
    let query = suggestions::table
        .filter(suggestions::school_id.eq(school_id))
        .into_boxed();
    match (scope.all, !scope.led.is_empty(), scope.upper_levels) {
        (true, _, _) => query,
        (false, true, true) => query.filter(
            suggestions::pupil_id
                .eq_any(led_pupils)
                .or(suggestions::to_level.ge(upper))
                .or(suggestions::from_level.ge(upper)),
        ),
        (false, true, false) => query.filter(suggestions::pupil_id.eq_any(led_pupils)),
        (false, false, true) => query.filter(
            suggestions::to_level
                .ge(upper)
                .or(suggestions::from_level.ge(upper)),
        ),
        // Nothing in scope: a filter no row meets.
        (false, false, false) => query.filter(suggestions::id.lt(0)),
    }
}

/// How many open suggestions wait for `member`, not counting snoozed ones: the figure next
/// to "Decisions".
pub fn open_count(conn: &mut DbConnection, member: &StaffMember, today: NaiveDate) -> Result<i64> {
    let scope = InboxScope::of(member);
    if scope.is_empty() {
        return Ok(0);
    }
    Ok(scoped(member.school_id, &scope)
        .filter(
            suggestions::snoozed_until
                .is_null()
                .or(suggestions::snoozed_until.le(today)),
        )
        .count()
        .get_result(conn)?)
}

fn level_of(number: i16) -> Level {
    Level::from_number(i64::from(number)).unwrap_or(Level::None)
}

/// The incident ids a suggestion names as evidence.
pub fn evidence_ids(row: &SuggestionRow) -> Vec<i64> {
    serde_json::from_str(&row.evidence).unwrap_or_default()
}

/// The open suggestions `member` may decide, most urgent first: moves up (and on to a next
/// programme block) before steps down; then the higher target level; then those with a
/// serious incident among the evidence; then the oldest.
pub fn for_member(
    conn: &mut DbConnection,
    member: &StaffMember,
    query: &InboxQuery,
) -> Result<Inbox> {
    let scope = InboxScope::of(member);
    if scope.is_empty() {
        return Ok(Inbox::default());
    }
    let school_id = member.school_id;
    let not_snoozed = suggestions::snoozed_until
        .is_null()
        .or(suggestions::snoozed_until.le(query.today));
    let open: i64 = scoped(school_id, &scope)
        .filter(not_snoozed)
        .count()
        .get_result(conn)?;
    let all: i64 = scoped(school_id, &scope).count().get_result(conn)?;

    let mut listing = scoped(school_id, &scope)
        // Steps down last (false sorts before true on both engines), then the highest
        // target, then the oldest: the database's half of the order, so the limit keeps
        // the most urgent.
        .order((
            suggestions::to_level.lt(suggestions::from_level).asc(),
            suggestions::to_level.desc(),
            suggestions::created_at.asc(),
            suggestions::id.asc(),
        ))
        .limit(query.limit.clamp(1, INBOX_LIMIT))
        .select(SuggestionRow::as_select());
    if !query.show_snoozed {
        listing = listing.filter(not_snoozed);
    }
    let rows: Vec<SuggestionRow> = listing.load(conn)?;

    let mut pupil_ids: Vec<i64> = rows.iter().map(|r| r.pupil_id).collect();
    pupil_ids.sort_unstable();
    pupil_ids.dedup();
    let pupils = pupils::by_ids(conn, school_id, &pupil_ids)?;

    let mut wanted: Vec<i64> = rows
        .iter()
        .flat_map(|r| evidence_ids(r).into_iter().take(EVIDENCE_PER_SUGGESTION))
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    let found: Vec<(
        i64,
        chrono::NaiveDateTime,
        String,
        String,
        Option<chrono::NaiveDateTime>,
    )> = if wanted.is_empty() {
        Vec::new()
    } else {
        incidents::table
            .filter(incidents::school_id.eq(school_id))
            .filter(incidents::id.eq_any(&wanted))
            .select((
                incidents::id,
                incidents::occurred_at,
                incidents::behaviour,
                incidents::severity,
                incidents::voided_at,
            ))
            .load(conn)?
    };
    let incidents: HashMap<i64, EvidenceIncident> = found
        .into_iter()
        .map(|(id, occurred_at, behaviour, severity, voided_at)| {
            (
                id,
                EvidenceIncident {
                    id,
                    occurred_at: from_db_time(occurred_at),
                    behaviour,
                    severity,
                    undone: voided_at.is_some(),
                },
            )
        })
        .collect();

    let mut items: Vec<InboxItem> = rows
        .into_iter()
        .filter_map(|row| {
            // A pupil of the school is always found; one that is not cannot be shown.
            let pupil = pupils.get(&row.pupil_id)?.clone();
            let ids = evidence_ids(&row);
            let mut evidence: Vec<EvidenceIncident> = ids
                .iter()
                .take(EVIDENCE_PER_SUGGESTION)
                .filter_map(|id| incidents.get(id).cloned())
                .collect();
            evidence.sort_by_key(|e| (e.occurred_at, e.id));
            Some(InboxItem {
                from: level_of(row.from_level),
                to: level_of(row.to_level),
                snoozed_until: row.snoozed_until.filter(|until| *until > query.today),
                evidence_count: ids.len(),
                evidence,
                pupil,
                suggestion: row,
            })
        })
        .collect();
    items.sort_by_key(|item| {
        (
            item.is_step_down(),
            Reverse(item.to),
            !item.has_serious_evidence(),
            item.suggestion.created_at,
            item.suggestion.id,
        )
    });
    Ok(Inbox {
        items,
        open,
        snoozed: all - open,
    })
}

/// The open count for the navigation of a page that has a connection at hand: `None` for a
/// member with no inbox.
pub fn count_for_nav(
    conn: &mut DbConnection,
    member: &StaffMember,
    today: NaiveDate,
) -> Result<Option<i64>> {
    if has_inbox(member) {
        open_count(conn, member, today).map(Some)
    } else {
        Ok(None)
    }
}

/// What a decision changed, read back from the records for its confirmation.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub pupil: PupilView,
    /// The suggestion decided, for a decision on one.
    pub suggestion: Option<SuggestionRow>,
    /// The move made, when the pupil moved.
    pub change: Option<LevelChangeRow>,
    /// The meeting created with the move, when there is one.
    pub meeting: Option<MeetingRow>,
    /// Who decided the suggestion, by name.
    pub decided_by: Option<String>,
}

/// The meeting `meeting_id` of this pupil, if there is one.
fn meeting_of(
    conn: &mut DbConnection,
    school_id: i64,
    pupil_id: i64,
    meeting_id: Option<i64>,
) -> Result<Option<MeetingRow>> {
    let Some(id) = meeting_id else {
        return Ok(None);
    };
    Ok(meetings::table
        .filter(meetings::id.eq(id))
        .filter(meetings::school_id.eq(school_id))
        .filter(meetings::pupil_id.eq(pupil_id))
        .select(MeetingRow::as_select())
        .first(conn)
        .optional()?)
}

/// The state of a suggestion of the school after a decision on it: its pupil, the move its
/// acceptance made, and the meeting `meeting_id` when it is that pupil's. `None` when the
/// school has no such suggestion.
pub fn suggestion_outcome(
    conn: &mut DbConnection,
    school_id: i64,
    suggestion_id: i64,
    meeting_id: Option<i64>,
) -> Result<Option<Outcome>> {
    let Some(row) = suggestions::table
        .filter(suggestions::id.eq(suggestion_id))
        .filter(suggestions::school_id.eq(school_id))
        .select(SuggestionRow::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let pupil = pupils::get(conn, school_id, row.pupil_id)?;
    let change = level_changes::table
        .filter(level_changes::suggestion_id.eq(row.id))
        .filter(level_changes::school_id.eq(school_id))
        .order(level_changes::id.asc())
        .select(LevelChangeRow::as_select())
        .first(conn)
        .optional()?;
    let meeting = if change.is_some() {
        meeting_of(conn, school_id, row.pupil_id, meeting_id)?
    } else {
        None
    };
    let decided_by = match row.decided_by {
        Some(id) => staff::table
            .filter(staff::id.eq(id))
            .filter(staff::school_id.eq(school_id))
            .select(staff::name)
            .first(conn)
            .optional()?,
        None => None,
    };
    Ok(Some(Outcome {
        pupil,
        suggestion: Some(row),
        change,
        meeting,
        decided_by,
    }))
}

/// A move of this pupil made by hand, with the meeting `meeting_id` when it is the pupil's.
/// `None` when the pupil has no such move.
pub fn move_outcome(
    conn: &mut DbConnection,
    school_id: i64,
    pupil_id: i64,
    change_id: i64,
    meeting_id: Option<i64>,
) -> Result<Option<Outcome>> {
    let Some(change) = level_changes::table
        .filter(level_changes::id.eq(change_id))
        .filter(level_changes::school_id.eq(school_id))
        .filter(level_changes::pupil_id.eq(pupil_id))
        .select(LevelChangeRow::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let pupil = pupils::get(conn, school_id, pupil_id)?;
    let meeting = meeting_of(conn, school_id, pupil_id, meeting_id)?;
    Ok(Some(Outcome {
        pupil,
        suggestion: None,
        change: Some(change),
        meeting,
        decided_by: None,
    }))
}
