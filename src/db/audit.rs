//! The audit log: who did what to which record, and when. Details never hold names or notes.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use diesel::prelude::*;

use super::pupils::PupilView;
use super::schema::{
    audit_log, coaching_plans, conversations, incident_pupils, meetings, programme_blocks,
    programme_sessions, provision_items, suggestions,
};
use super::staff::StaffMember;
use super::{to_db_time, Database, DbConnection};
use crate::domain::calendar::SCHOOL_TZ;
use crate::domain::details::SenStatus;
use crate::error::Result;

/// One audited action, written in the same transaction as the change it describes.
///
/// An absent actor or record is written as NULL rather than left to the column's default, so
/// that many entries go in one insert on SQLite too.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = audit_log, treat_none_as_default_value = false)]
pub struct AuditEntry<'a> {
    pub school_id: i64,
    pub actor_id: Option<i64>,
    pub action: &'a str,
    pub entity: &'a str,
    pub entity_id: Option<i64>,
    pub detail: String,
    pub at: NaiveDateTime,
}

/// Records a change made now by staff member `by` to `entity` (`entity_id` when it names
/// one record), inside the caller's transaction.
pub fn record_by(
    conn: &mut DbConnection,
    by: &StaffMember,
    action: &str,
    entity: &str,
    entity_id: Option<i64>,
    detail: String,
) -> Result<()> {
    record(
        conn,
        AuditEntry {
            school_id: by.school_id,
            actor_id: Some(by.id),
            action,
            entity,
            entity_id,
            detail,
            at: to_db_time(Utc::now()),
        },
    )
}

/// Records one audited action inside the caller's transaction.
pub fn record(conn: &mut DbConnection, entry: AuditEntry<'_>) -> Result<()> {
    diesel::insert_into(audit_log::table)
        .values(&entry)
        .execute(conn)?;
    Ok(())
}

/// Records several entries in one insert, inside the caller's transaction.
pub fn record_all(conn: &mut DbConnection, entries: &[AuditEntry<'_>]) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    super::on_each_engine!(conn, |c| diesel::insert_into(audit_log::table)
        .values(entries)
        .execute(c)?);
    Ok(())
}

/// The sensitive records whose reading is audited: opening a pupil's plan, programme,
/// session, provision map or SEN status, and the downloads of provision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    Plan,
    Programme,
    Session,
    Provision,
    /// A pupil's provision as CSV.
    ProvisionExport,
    SenStatus,
    /// The whole-school provision map.
    ProvisionMap,
    /// The whole-school provision map as CSV.
    ProvisionMapExport,
    /// Everything held about a pupil, given out for a subject access request.
    SubjectAccess,
    /// The record sent on to a pupil's next school.
    Transfer,
}

impl Read {
    /// The action name stored in the audit log.
    pub fn action(self) -> &'static str {
        match self {
            Read::Plan => "plan.read",
            Read::Programme => "programme.read",
            Read::Session => "session.read",
            Read::Provision => "provision.read",
            Read::ProvisionExport => "provision.export",
            Read::SenStatus => "sen_status.read",
            Read::ProvisionMap => "provision_map.read",
            Read::ProvisionMapExport => "provision_map.export",
            Read::SubjectAccess => "subject_access.export",
            Read::Transfer => "transfer.export",
        }
    }

    /// The reads of one pupil's records, as a subject access record lists them.
    pub const OF_A_PUPIL: [Read; 8] = [
        Read::Plan,
        Read::Programme,
        Read::Session,
        Read::Provision,
        Read::ProvisionExport,
        Read::SenStatus,
        Read::SubjectAccess,
        Read::Transfer,
    ];
}

/// Records, inside the caller's transaction, that `reader` opened a sensitive record: about
/// the pupil `pupil_id`, or about the whole school without one. `detail` names record ids or
/// filters, never names or notes.
pub fn record_read(
    conn: &mut DbConnection,
    reader: &StaffMember,
    read: Read,
    pupil_id: Option<i64>,
    detail: String,
) -> Result<()> {
    record(
        conn,
        AuditEntry {
            school_id: reader.school_id,
            actor_id: Some(reader.id),
            action: read.action(),
            entity: if pupil_id.is_some() {
                "pupil"
            } else {
                "school"
            },
            entity_id: pupil_id.or(Some(reader.school_id)),
            detail,
            at: to_db_time(Utc::now()),
        },
    )
}

/// One stored audit entry.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub struct AuditRow {
    pub id: i64,
    pub actor_id: Option<i64>,
    pub action: String,
    pub entity: String,
    pub entity_id: Option<i64>,
    pub detail: String,
    pub at: NaiveDateTime,
}

/// Which entries to list. Dates are school (London) dates, both ends included.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Done by this member of staff.
    pub actor_id: Option<i64>,
    /// About this pupil: their own record, or one of their incidents, suggestions,
    /// conversations, plans, meetings, programme blocks and sessions, and provision.
    pub pupil_id: Option<i64>,
    pub action: Option<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

/// Where a page of entries continues: after the entry at `at` with id `id` (newest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub at: NaiveDateTime,
    pub id: i64,
}

impl Cursor {
    /// The opaque text form used in links.
    pub fn encode(self) -> String {
        let nanos = self.at.and_utc().timestamp_nanos_opt().unwrap_or(0);
        format!("{nanos}.{}", self.id)
    }

    /// Reads the text form; `None` for anything else.
    pub fn decode(text: &str) -> Option<Cursor> {
        let (nanos, id) = text.trim().split_once('.')?;
        let at = DateTime::from_timestamp_nanos(nanos.parse().ok()?).naive_utc();
        Some(Cursor {
            at,
            id: id.parse().ok()?,
        })
    }
}

/// One page of entries, newest first, and where the next page starts.
#[derive(Debug, Clone)]
pub struct AuditPage {
    pub rows: Vec<AuditRow>,
    pub next: Option<Cursor>,
}

/// The start of a school day as stored (UTC).
fn start_of(day: NaiveDate) -> NaiveDateTime {
    let midnight = day.and_time(NaiveTime::MIN);
    to_db_time(
        SCHOOL_TZ
            .from_local_datetime(&midnight)
            .earliest()
            .map_or_else(|| midnight.and_utc(), |t| t.with_timezone(&Utc)),
    )
}

/// Up to `limit` of the school's entries matching `filter`, newest first, after `after`.
pub fn list(
    conn: &mut DbConnection,
    school_id: i64,
    filter: &AuditFilter,
    after: Option<Cursor>,
    limit: i64,
) -> Result<AuditPage> {
    let mut query = audit_log::table
        .filter(audit_log::school_id.eq(school_id))
        .select(AuditRow::as_select())
        .order((audit_log::at.desc(), audit_log::id.desc()))
        .into_boxed();
    if let Some(actor) = filter.actor_id {
        query = query.filter(audit_log::actor_id.eq(actor));
    }
    if let Some(pupil) = filter.pupil_id {
        let of = |entity: &'static str| audit_log::entity.eq(entity);
        let id = audit_log::entity_id;
        query = query.filter(
            of("pupil")
                .and(id.eq(pupil))
                .or(of("incident").and(
                    id.eq_any(
                        incident_pupils::table
                            .filter(incident_pupils::pupil_id.eq(pupil))
                            .select(incident_pupils::incident_id.nullable()),
                    ),
                ))
                .or(of("suggestion").and(
                    id.eq_any(
                        suggestions::table
                            .filter(suggestions::pupil_id.eq(pupil))
                            .select(suggestions::id.nullable()),
                    ),
                ))
                .or(of("conversation").and(
                    id.eq_any(
                        conversations::table
                            .filter(conversations::pupil_id.eq(pupil))
                            .select(conversations::id.nullable()),
                    ),
                ))
                .or(of("coaching_plan").and(
                    id.eq_any(
                        coaching_plans::table
                            .filter(coaching_plans::pupil_id.eq(pupil))
                            .select(coaching_plans::id.nullable()),
                    ),
                ))
                .or(of("meeting").and(
                    id.eq_any(
                        meetings::table
                            .filter(meetings::pupil_id.eq(pupil))
                            .select(meetings::id.nullable()),
                    ),
                ))
                .or(of("programme_block").and(
                    id.eq_any(
                        programme_blocks::table
                            .filter(programme_blocks::pupil_id.eq(pupil))
                            .select(programme_blocks::id.nullable()),
                    ),
                ))
                .or(of("programme_session").and(
                    id.eq_any(
                        programme_sessions::table
                            .filter(programme_sessions::pupil_id.eq(pupil))
                            .select(programme_sessions::id.nullable()),
                    ),
                ))
                .or(of("provision_item").and(
                    id.eq_any(
                        provision_items::table
                            .filter(provision_items::pupil_id.eq(pupil))
                            .select(provision_items::id.nullable()),
                    ),
                )),
        );
    }
    if let Some(action) = &filter.action {
        query = query.filter(audit_log::action.eq(action.clone()));
    }
    if let Some(from) = filter.from {
        query = query.filter(audit_log::at.ge(start_of(from)));
    }
    if let Some(next_day) = filter.to.and_then(|to| to.succ_opt()) {
        query = query.filter(audit_log::at.lt(start_of(next_day)));
    }
    if let Some(cursor) = after {
        query = query.filter(
            audit_log::at
                .lt(cursor.at)
                .or(audit_log::at.eq(cursor.at).and(audit_log::id.lt(cursor.id))),
        );
    }
    let mut rows: Vec<AuditRow> = query.limit(limit + 1).load(conn)?;
    let next = if rows.len() as i64 > limit {
        rows.truncate(usize::try_from(limit).unwrap_or(0));
        rows.last().map(|row| Cursor {
            at: row.at,
            id: row.id,
        })
    } else {
        None
    };
    Ok(AuditPage { rows, next })
}

/// The actions the school's audit log holds, for the filter's choices.
pub fn actions(conn: &mut DbConnection, school_id: i64) -> Result<Vec<String>> {
    Ok(audit_log::table
        .filter(audit_log::school_id.eq(school_id))
        .select(audit_log::action)
        .distinct()
        .order(audit_log::action)
        .load(conn)?)
}

/// Reads a sensitive record for `reader` and records that they opened it, before the caller
/// shows anything: `work` reads in a read-only transaction (never on the writer, which logging
/// needs) and answers the record with the pupil it is about and the entry's detail; the entry
/// is then written in a short write of its own.
pub async fn read_recorded<T, F>(
    db: &Database,
    reader: &StaffMember,
    read: Read,
    work: F,
) -> Result<T>
where
    F: FnOnce(&mut DbConnection) -> Result<(T, Option<i64>, String)> + Send + 'static,
    T: Send + 'static,
{
    let (record, pupil_id, detail) = db.transaction(work).await?;
    let reader = reader.clone();
    db.write(move |conn| record_read(conn, &reader, read, pupil_id, detail))
        .await?;
    Ok(record)
}

/// Records, in a transaction of its own, that `reader` opened the record of a pupil on the
/// SEN register (their SEN status shows on it); nothing for a pupil not on it. The page read
/// the pupil in a read-only transaction, so most pupils cost no write at all.
pub async fn record_sen_read(db: &Database, reader: &StaffMember, pupil: &PupilView) -> Result<()> {
    if pupil.sen_status == SenStatus::None {
        return Ok(());
    }
    let (reader, pupil_id) = (reader.clone(), pupil.id);
    let detail = pupil.sen_status.as_str().to_string();
    db.write(move |conn| record_read(conn, &reader, Read::SenStatus, Some(pupil_id), detail))
        .await
}
