//! A pupil's timeline: incidents, conversations, level changes, suggestions, meetings and
//! recorded programme sessions in one list, newest first, optionally filtered by kind and by
//! date.

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use diesel::prelude::*;

use super::meetings::level_of;
use super::models::{IncidentRow, LevelChangeRow, MeetingRow, ProgrammeSessionRow, SuggestionRow};
use super::pupils::PupilView;
use super::schema::{
    conversations, incident_pupils, incidents, level_changes, meetings, programme_blocks,
    programme_sessions, staff, suggestions,
};
use super::staff::StaffMember;
use super::{from_db_time, to_db_time, DbConnection};
use crate::domain::calendar::SCHOOL_TZ;
use crate::domain::visibility::Record;
use crate::error::{Error, Result};

/// The kinds of entry on a timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    Incident,
    Conversation,
    LevelChange,
    Suggestion,
    Meeting,
    /// A Coaching Programme session, once recorded.
    Session,
}

impl EventKind {
    /// Every kind, in the order filters list them.
    pub const ALL: [EventKind; 6] = [
        EventKind::Incident,
        EventKind::Conversation,
        EventKind::LevelChange,
        EventKind::Suggestion,
        EventKind::Meeting,
        EventKind::Session,
    ];

    /// The stable name used in the API and in filters.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Incident => "incident",
            EventKind::Conversation => "conversation",
            EventKind::LevelChange => "level_change",
            EventKind::Suggestion => "suggestion",
            EventKind::Meeting => "meeting",
            EventKind::Session => "session",
        }
    }

    /// The kind with this name.
    pub fn parse(raw: &str) -> Result<Self> {
        EventKind::ALL
            .into_iter()
            .find(|k| k.as_str() == raw.trim())
            .ok_or_else(|| {
                Error::invalid(
                    "type",
                    "type must be incident, conversation, level_change, suggestion, meeting or session",
                )
            })
    }

    /// Where entries of this kind come among entries of the same time: their place in
    /// [`EventKind::ALL`].
    pub fn rank(self) -> u8 {
        match self {
            EventKind::Incident => 0,
            EventKind::Conversation => 1,
            EventKind::LevelChange => 2,
            EventKind::Suggestion => 3,
            EventKind::Meeting => 4,
            EventKind::Session => 5,
        }
    }

    /// A plural label for filters.
    pub fn label(self) -> &'static str {
        match self {
            EventKind::Incident => "Incidents",
            EventKind::Conversation => "Conversations",
            EventKind::LevelChange => "Level changes",
            EventKind::Suggestion => "Suggestions",
            EventKind::Meeting => "Meetings",
            EventKind::Session => "Programme sessions",
        }
    }
}

/// A recorded Coaching Conversation, as shown on a timeline.
#[derive(Debug, Clone)]
pub struct ConversationEntry {
    pub id: i64,
    pub held_by: String,
    pub held_at: DateTime<Utc>,
    pub with_whom: Option<String>,
    pub what_happened: String,
    pub what_got_in_the_way: Option<String>,
    pub what_could_help: Option<String>,
    pub plan_next_time: String,
    pub good_for_everyone: Option<String>,
}

/// What a timeline entry records.
#[derive(Debug, Clone)]
pub enum EventDetail {
    /// An incident, with the name of the adult who logged it.
    Incident(IncidentRow, String),
    Conversation(ConversationEntry),
    LevelChange(LevelChangeRow),
    Suggestion(SuggestionRow),
    Meeting(MeetingRow),
    /// A recorded programme session.
    Session(ProgrammeSessionRow),
}

/// One entry of a pupil's timeline.
#[derive(Debug, Clone)]
pub struct TimelineEvent {
    pub at: DateTime<Utc>,
    pub detail: EventDetail,
}

/// Where an entry sorts on a timeline, whose order is total: newest first, then by kind (in
/// the order of [`EventKind::ALL`]), then the highest id first. A page of a timeline starts
/// after the key of the last entry of the page before.
pub type TimelineKey = (chrono::NaiveDateTime, u8, i64);

/// A key that sorts ascending in timeline order.
fn order_of(
    key: TimelineKey,
) -> (
    std::cmp::Reverse<chrono::NaiveDateTime>,
    u8,
    std::cmp::Reverse<i64>,
) {
    (std::cmp::Reverse(key.0), key.1, std::cmp::Reverse(key.2))
}

impl TimelineEvent {
    /// The entry's kind.
    pub fn kind(&self) -> EventKind {
        match self.detail {
            EventDetail::Incident(..) => EventKind::Incident,
            EventDetail::Conversation(_) => EventKind::Conversation,
            EventDetail::LevelChange(_) => EventKind::LevelChange,
            EventDetail::Suggestion(_) => EventKind::Suggestion,
            EventDetail::Meeting(_) => EventKind::Meeting,
            EventDetail::Session(_) => EventKind::Session,
        }
    }

    /// The record's id (ids are unique within a kind).
    pub fn id(&self) -> i64 {
        match &self.detail {
            EventDetail::Incident(row, _) => row.id,
            EventDetail::Conversation(c) => c.id,
            EventDetail::LevelChange(row) => row.id,
            EventDetail::Suggestion(row) => row.id,
            EventDetail::Meeting(row) => row.id,
            EventDetail::Session(row) => row.id,
        }
    }

    /// Where the entry sorts on a timeline.
    pub fn key(&self) -> TimelineKey {
        (to_db_time(self.at), self.kind().rank(), self.id())
    }
}

/// The open ends of a date range, as dates that sort correctly as text too (SQLite stores
/// dates and times as text, where `NaiveDate::MAX`'s leading `+` sorts first).
const EARLIEST: NaiveDate = match NaiveDate::from_ymd_opt(1900, 1, 1) {
    Some(day) => day,
    None => NaiveDate::MIN,
};
const LATEST: NaiveDate = match NaiveDate::from_ymd_opt(9999, 12, 31) {
    Some(day) => day,
    None => NaiveDate::MAX,
};

/// Which entries to show. Dates are school (London) dates, both ends included.
#[derive(Debug, Clone, Default)]
pub struct TimelineFilter {
    /// Only these kinds; all kinds when empty.
    pub kinds: Vec<EventKind>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// Most entries read (the newest, after `after`).
    pub limit: i64,
    /// Only entries after this one in timeline order (older ones, for the next page).
    pub after: Option<TimelineKey>,
}

impl TimelineFilter {
    fn wants(&self, kind: EventKind) -> bool {
        self.kinds.is_empty() || self.kinds.contains(&kind)
    }

    /// The UTC range covering the filter's dates.
    fn range(&self) -> (chrono::NaiveDateTime, chrono::NaiveDateTime) {
        let start_of = |d: NaiveDate| {
            SCHOOL_TZ
                .from_local_datetime(&d.and_time(NaiveTime::MIN))
                .earliest()
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_else(|| d.and_time(NaiveTime::MIN).and_utc())
        };
        let from = start_of(self.from.unwrap_or(EARLIEST));
        let to = start_of(self.to.and_then(|d| d.succ_opt()).unwrap_or(LATEST));
        (to_db_time(from), to_db_time(to))
    }

    /// For entries of `kind`: those after `after` are those with a time before the first
    /// bound, or at it with an id below the second.
    fn bound(&self, kind: EventKind) -> (chrono::NaiveDateTime, i64) {
        match self.after {
            None => (LATEST.and_time(NaiveTime::MIN), i64::MAX),
            Some((at, rank, id)) => {
                let id_bound = match kind.rank().cmp(&rank) {
                    std::cmp::Ordering::Less => i64::MIN,
                    std::cmp::Ordering::Equal => id,
                    std::cmp::Ordering::Greater => i64::MAX,
                };
                (at, id_bound)
            }
        }
    }

    /// Whether an entry with this key comes after `after`.
    fn follows(&self, key: TimelineKey) -> bool {
        self.after
            .is_none_or(|after| order_of(key) > order_of(after))
    }
}

/// Entries read in SQL after the timeline position: a time before `bound.0`, or at it with an
/// id below `bound.1`.
macro_rules! older_than {
    ($at:expr, $id:expr, $bound:expr) => {{
        let (at, id) = $bound;
        $at.lt(at).or($at.eq(at).and($id.lt(id)))
    }};
}

/// The pupil's timeline as `reader` may read it, newest first (at most `filter.limit` entries,
/// after `filter.after`): each kind of entry only when
/// [`crate::domain::visibility`] lets them read it, meetings without their record and
/// programme sessions only for those who may read the programme's sessions. The pupil has
/// been loaded from the reader's school.
pub fn for_pupil(
    conn: &mut DbConnection,
    reader: &StaffMember,
    pupil: &PupilView,
    filter: &TimelineFilter,
) -> Result<Vec<TimelineEvent>> {
    let (school_id, pupil_id, place) = (reader.school_id, pupil.id, pupil.place());
    let (from, to) = filter.range();
    let limit = filter.limit.clamp(1, 1000);
    let wants =
        |kind: EventKind, record: Record| filter.wants(kind) && reader.may_read(place, record);
    let mut events = Vec::new();
    if wants(EventKind::Incident, Record::Incident) {
        let rows: Vec<(IncidentRow, String)> = incidents::table
            .inner_join(incident_pupils::table)
            .inner_join(staff::table)
            .filter(incident_pupils::pupil_id.eq(pupil_id))
            .filter(incidents::school_id.eq(school_id))
            .filter(
                incidents::occurred_at
                    .ge(from)
                    .and(incidents::occurred_at.lt(to)),
            )
            .filter(older_than!(
                incidents::occurred_at,
                incidents::id,
                filter.bound(EventKind::Incident)
            ))
            .order((incidents::occurred_at.desc(), incidents::id.desc()))
            .limit(limit)
            .select((IncidentRow::as_select(), staff::name))
            .load(conn)?;
        events.extend(rows.into_iter().map(|(row, by)| TimelineEvent {
            at: from_db_time(row.occurred_at),
            detail: EventDetail::Incident(row, by),
        }));
    }
    if wants(EventKind::Conversation, Record::Conversation) {
        type Row = (
            i64,
            String,
            chrono::NaiveDateTime,
            Option<String>,
            String,
            Option<String>,
            Option<String>,
            String,
            Option<String>,
        );
        let rows: Vec<Row> = conversations::table
            .inner_join(staff::table)
            .filter(conversations::pupil_id.eq(pupil_id))
            .filter(conversations::school_id.eq(school_id))
            .filter(
                conversations::held_at
                    .ge(from)
                    .and(conversations::held_at.lt(to)),
            )
            .filter(older_than!(
                conversations::held_at,
                conversations::id,
                filter.bound(EventKind::Conversation)
            ))
            .order((conversations::held_at.desc(), conversations::id.desc()))
            .limit(limit)
            .select((
                conversations::id,
                staff::name,
                conversations::held_at,
                conversations::with_whom,
                conversations::what_happened,
                conversations::what_got_in_the_way,
                conversations::what_could_help,
                conversations::plan_next_time,
                conversations::good_for_everyone,
            ))
            .load(conn)?;
        events.extend(rows.into_iter().map(|r| {
            let held_at = from_db_time(r.2);
            TimelineEvent {
                at: held_at,
                detail: EventDetail::Conversation(ConversationEntry {
                    id: r.0,
                    held_by: r.1,
                    held_at,
                    with_whom: r.3,
                    what_happened: r.4,
                    what_got_in_the_way: r.5,
                    what_could_help: r.6,
                    plan_next_time: r.7,
                    good_for_everyone: r.8,
                }),
            }
        }));
    }
    if wants(EventKind::LevelChange, Record::LevelChange) {
        let rows: Vec<LevelChangeRow> = level_changes::table
            .filter(level_changes::pupil_id.eq(pupil_id))
            .filter(level_changes::school_id.eq(school_id))
            .filter(
                level_changes::occurred_at
                    .ge(from)
                    .and(level_changes::occurred_at.lt(to)),
            )
            .filter(older_than!(
                level_changes::occurred_at,
                level_changes::id,
                filter.bound(EventKind::LevelChange)
            ))
            .order((level_changes::occurred_at.desc(), level_changes::id.desc()))
            .limit(limit)
            .select(LevelChangeRow::as_select())
            .load(conn)?;
        events.extend(rows.into_iter().map(|row| TimelineEvent {
            at: from_db_time(row.occurred_at),
            detail: EventDetail::LevelChange(row),
        }));
    }
    if wants(EventKind::Suggestion, Record::Suggestion) {
        let rows: Vec<SuggestionRow> = suggestions::table
            .filter(suggestions::pupil_id.eq(pupil_id))
            .filter(suggestions::school_id.eq(school_id))
            .filter(
                suggestions::created_at
                    .ge(from)
                    .and(suggestions::created_at.lt(to)),
            )
            .filter(older_than!(
                suggestions::created_at,
                suggestions::id,
                filter.bound(EventKind::Suggestion)
            ))
            .order((suggestions::created_at.desc(), suggestions::id.desc()))
            .limit(limit)
            .select(SuggestionRow::as_select())
            .load(conn)?;
        events.extend(rows.into_iter().map(|row| TimelineEvent {
            at: from_db_time(row.created_at),
            detail: EventDetail::Suggestion(row),
        }));
    }
    // A meeting's time (held, else booked, else made) and a session's (its day and planned
    // time) are worked out here, so a pupil's meetings and recorded sessions (tens, a few
    // hundred at most) are read whole and placed after `filter.after` below.
    if filter.wants(EventKind::Meeting) {
        let rows: Vec<MeetingRow> = meetings::table
            .filter(meetings::pupil_id.eq(pupil_id))
            .filter(meetings::school_id.eq(school_id))
            .filter(
                meetings::created_at
                    .ge(from)
                    .and(meetings::created_at.lt(to)),
            )
            .order((meetings::created_at.desc(), meetings::id.desc()))
            .select(MeetingRow::as_select())
            .load(conn)?;
        events.extend(
            rows.into_iter()
                .filter(|row| {
                    reader.may_read(
                        place,
                        Record::Meeting {
                            level: level_of(row.level),
                        },
                    )
                })
                .map(|row| {
                    let record = Record::MeetingRecord {
                        level: level_of(row.level),
                    };
                    let row = if reader.may_read(place, record) {
                        row
                    } else {
                        without_record(row)
                    };
                    TimelineEvent {
                        at: from_db_time(row.held_at.or(row.starts_at).unwrap_or(row.created_at)),
                        detail: EventDetail::Meeting(row),
                    }
                }),
        );
    }
    if filter.wants(EventKind::Session) {
        let rows: Vec<(ProgrammeSessionRow, Option<i64>)> = programme_sessions::table
            .inner_join(programme_blocks::table)
            .filter(programme_sessions::pupil_id.eq(pupil_id))
            .filter(programme_sessions::school_id.eq(school_id))
            .filter(programme_sessions::recorded_at.is_not_null())
            .filter(programme_sessions::on_date.ge(filter.from.unwrap_or(EARLIEST)))
            .filter(programme_sessions::on_date.le(filter.to.unwrap_or(LATEST)))
            .order((
                programme_sessions::on_date.desc(),
                programme_sessions::id.desc(),
            ))
            .select((
                ProgrammeSessionRow::as_select(),
                programme_blocks::practitioner_id,
            ))
            .load(conn)?;
        events.extend(
            rows.into_iter()
                .filter(|(_, practitioner)| {
                    reader.may_read_of_programme(place, Record::Session, *practitioner)
                })
                .map(|(row, _)| TimelineEvent {
                    at: session_start(&row),
                    detail: EventDetail::Session(row),
                }),
        );
    }
    events.retain(|e| filter.follows(e.key()));
    events.sort_by_key(|e| order_of(e.key()));
    events.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(events)
}

/// A meeting shown to someone who may know of it but not read its record: its level, due
/// day, status and time stay; what was said at it (or why it was cancelled) goes.
fn without_record(row: MeetingRow) -> MeetingRow {
    MeetingRow {
        summary: None,
        goals_met: None,
        cancel_reason: None,
        follow_up: None,
        successes: None,
        challenges: None,
        focus: None,
        action_steps: None,
        next_step: None,
        ..row
    }
}

/// When a session started: its day at its planned local time, or at noon without one.
fn session_start(row: &ProgrammeSessionRow) -> DateTime<Utc> {
    let time = row
        .session_time
        .as_deref()
        .and_then(|t| NaiveTime::parse_from_str(t, "%H:%M").ok())
        .or_else(|| NaiveTime::from_hms_opt(12, 0, 0))
        .unwrap_or(NaiveTime::MIN);
    SCHOOL_TZ
        .from_local_datetime(&row.on_date.and_time(time))
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| row.on_date.and_time(time).and_utc())
}
