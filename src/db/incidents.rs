//! Incidents: logging one (and at once evaluating the rules for each pupil involved), and the
//! author's undo and edit within a short window.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use diesel::dsl::AsExprOf;
use diesel::expression::{SqlLiteral, UncheckedBind};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, SmallInt, Text, Timestamp};

use super::audit::{self, AuditEntry};
use super::evaluation::{self, HistoryCache, SchoolRules, StoredHistory};
use super::insight::NewCounts;
use super::models::{IncidentRow, LevelChangeRow, PupilRow, SuggestionRow};
use super::schema::{
    conversation_incidents, incident_pupils, incidents, level_changes, pupils, suggestions,
};
use super::{to_db_time, DbConnection};
use crate::domain::calendar::SchoolCalendar;
use crate::domain::incident::NewIncident;
use crate::domain::rules::{IncidentFact, Response};
use crate::domain::Level;
use crate::error::{Error, Result};

/// How long the author of an incident may undo or edit it.
pub const AUTHOR_WINDOW: TimeDelta = TimeDelta::minutes(15);

/// A logged incident and what logging it led to.
#[derive(Debug, Clone)]
pub struct RecordedIncident {
    pub incident: IncidentRow,
    pub pupil_ids: Vec<i64>,
    /// Pupils moved from no level to Coaching Prompt by this incident.
    pub level_changes: Vec<LevelChangeRow>,
    /// Suggestions the rules made because of it.
    pub suggestions: Vec<SuggestionRow>,
    /// Each pupil's history as this write leaves it, to keep once it is committed
    /// ([`HistoryCache::keep`]).
    pub histories: Vec<(i64, StoredHistory)>,
}

/// Loads the named pupils with their history stamps, locking them on PostgreSQL so that two
/// incidents for one pupil are evaluated one after the other (in ascending id, the one order
/// every writer takes).
fn lock_pupils(conn: &mut DbConnection, ids: &[i64]) -> Result<HashMap<i64, (PupilRow, i64)>> {
    let found: Vec<(PupilRow, i64)> = match conn {
        DbConnection::Postgres(pg) => pupils::table
            .filter(pupils::id.eq_any(ids))
            .order(pupils::id)
            .for_update()
            .select((PupilRow::as_select(), pupils::history_stamp))
            .load(pg)?,
        // One writer at a time on SQLite, so nothing to lock.
        DbConnection::Sqlite(lite) => pupils::table
            .filter(sqlite_pupil_listed(ids)?)
            .select((PupilRow::as_select(), pupils::history_stamp))
            .load(lite)?,
    };
    Ok(found.into_iter().map(|row| (row.0.id, row)).collect())
}

/// The condition built by [`sqlite_pupil_listed`].
type PupilListed = SqlLiteral<Bool, UncheckedBind<SqlLiteral<Bool>, AsExprOf<String, Text>>>;

/// The condition "`pupils.id` is one of `ids`" for SQLite, as one statement whatever the
/// number of ids: they go as one JSON array read by `json_each`, so the statement is prepared
/// once and cached, where `IN (?, ?, …)` is a new statement for each length of list.
fn sqlite_pupil_listed(ids: &[i64]) -> Result<PupilListed> {
    let listed = serde_json::to_string(ids)
        .map_err(|error| Error::Internal(format!("the pupils could not be listed: {error}")))?;
    Ok(
        diesel::dsl::sql::<Bool>("pupils.id IN (SELECT value FROM json_each(")
            .bind::<Text, _>(listed)
            .sql("))"),
    )
}

/// The pupils of one incident, in the order named, from those locked: each must be on the
/// roll of the incident's school, or the whole request fails.
fn pupils_of(
    locked: &HashMap<i64, (PupilRow, i64)>,
    school_id: i64,
    ids: &[i64],
) -> Result<Vec<(PupilRow, i64)>> {
    ids.iter()
        .map(|id| match locked.get(id) {
            Some((pupil, stamp)) if pupil.school_id == school_id && pupil.left_on.is_none() => {
                Ok((pupil.clone(), *stamp))
            }
            _ => Err(Error::invalid(
                "pupil_ids",
                format!("pupil {id} is not on this school's roll"),
            )),
        })
        .collect()
}

/// One incident to log: the school, who logs it, what was submitted, the school's rules and
/// the moment it is logged.
#[derive(Clone, Copy)]
pub struct ToRecord<'a> {
    pub school_id: i64,
    pub reporter_id: i64,
    pub new: &'a NewIncident,
    pub rules: &'a SchoolRules,
    pub now: DateTime<Utc>,
}

/// Logs an incident for its pupils, notes it on each pupil, places a pupil with no level at
/// Coaching Prompt when a prompt was given, evaluates the rules for each pupil and stores the
/// suggestions they make; all in the caller's transaction, audited. Reads each pupil's
/// history from the database; see [`record_all`].
pub fn record(
    conn: &mut DbConnection,
    school_id: i64,
    reporter_id: i64,
    new: &NewIncident,
    rules: &SchoolRules,
    now: DateTime<Utc>,
) -> Result<RecordedIncident> {
    let item = ToRecord {
        school_id,
        reporter_id,
        new,
        rules,
        now,
    };
    let mut counts = NewCounts::default();
    let recorded = record_all(conn, &[item], None, &mut counts)?
        .pop()
        .ok_or_else(|| Error::Internal("the incident was not recorded".into()))?;
    counts.write(conn)?;
    Ok(recorded)
}

/// [`record`] for many incidents at once, in the order given, answering each in that order;
/// each pupil's history is taken from `histories` when still current (the pupil's history
/// stamp has not moved), so the rules need not read it again.
///
/// Usually one round: a few statements whatever the number of incidents (the pupils read
/// and locked, the incidents in one insert, their pupils in one insert, the suggestions made
/// in one insert, the history stamps read), then the audit entries in one insert. A pupil
/// named again is seen as the earlier incidents left them; only an incident whose rules look
/// further back than that pupil's first of the round waits for a round of its own (see
/// [`rounds_of`]).
///
/// What the incidents add to the daily counts is added to `counts`, for the caller to write
/// ([`NewCounts::write`]) as late in its transaction as it can: every logging transaction of
/// a school updates the same counted rows, so a second writer waits from that write until the
/// first commits.
pub fn record_all(
    conn: &mut DbConnection,
    items: &[ToRecord<'_>],
    histories: Option<&HistoryCache>,
    counts: &mut NewCounts,
) -> Result<Vec<RecordedIncident>> {
    let mut recorded: Vec<Option<RecordedIncident>> = vec![None; items.len()];
    let mut written = HashMap::new();
    let incidents: Vec<(&[i64], NaiveDateTime)> = items
        .iter()
        .map(|item| {
            let since = evaluation::history_start(item.rules, item.new.occurred_at, item.now);
            (&item.new.pupil_ids[..], since)
        })
        .collect();
    for round in rounds_of(&incidents) {
        let part: Vec<ToRecord<'_>> = round.iter().map(|i| items[*i]).collect();
        let reads_from: Vec<NaiveDateTime> = round.iter().map(|i| incidents[*i].1).collect();
        let done = record_round(conn, &part, &reads_from, histories, &mut written, counts)?;
        for (i, incident) in round.into_iter().zip(done) {
            recorded[i] = Some(incident);
        }
    }
    let recorded = recorded
        .into_iter()
        .map(|incident| incident.ok_or_else(|| Error::Internal("an incident was skipped".into())))
        .collect::<Result<Vec<_>>>()?;
    let entries: Vec<AuditEntry<'_>> = items
        .iter()
        .zip(&recorded)
        .map(|(item, incident)| AuditEntry {
            school_id: item.school_id,
            actor_id: Some(item.reporter_id),
            action: "incident.log",
            entity: "incident",
            entity_id: Some(incident.incident.id),
            detail: format!(
                "{} pupil(s), {}, response {}, {} suggestion(s)",
                incident.pupil_ids.len(),
                item.new.severity.as_str(),
                item.new.response.as_str(),
                incident.suggestions.len()
            ),
            at: to_db_time(item.now),
        })
        .collect();
    audit::record_all(conn, &entries)?;
    Ok(recorded)
}

/// Splits incidents, given by their pupils and how far back their rules look, into rounds,
/// keeping each pupil's incidents in the order given: answers the positions of each round.
/// An incident joins the round of its pupils' latest incidents, unless its rules look further
/// back than a pupil's first incident of that round did (the history read for that one would
/// not hold all it needs): then it starts the next round.
fn rounds_of(incidents: &[(&[i64], NaiveDateTime)]) -> Vec<Vec<usize>> {
    let mut last_round: HashMap<i64, usize> = HashMap::new();
    let mut first_since: HashMap<(i64, usize), NaiveDateTime> = HashMap::new();
    let mut rounds: Vec<Vec<usize>> = Vec::new();
    for (position, (pupils, since)) in incidents.iter().enumerate() {
        let latest = pupils
            .iter()
            .filter_map(|pupil| last_round.get(pupil))
            .max()
            .copied()
            .unwrap_or(0);
        let reads_further_back = pupils.iter().any(|pupil| {
            last_round.get(pupil) == Some(&latest)
                && first_since
                    .get(&(*pupil, latest))
                    .is_some_and(|first| since < first)
        });
        let round = if reads_further_back {
            latest + 1
        } else {
            latest
        };
        if rounds.len() <= round {
            rounds.resize_with(round + 1, Vec::new);
        }
        rounds[round].push(position);
        for pupil in *pupils {
            last_round.insert(*pupil, round);
            first_since.entry((*pupil, round)).or_insert(*since);
        }
    }
    rounds
}

/// A pupil placed at Coaching Prompt by logging: their new level and since when.
struct LevelUpdate {
    id: i64,
    level: i16,
    level_since: NaiveDateTime,
}

/// One round of [`record_all`]: no pupil appears twice. `reads_from` says, for each item,
/// where its rules' history starts ([`evaluation::history_start`], worked out once by the
/// caller). `written` holds the histories the earlier rounds left, and is given those this
/// round leaves; what the round adds to the daily counts is added to `counts`, written by the
/// caller.
fn record_round(
    conn: &mut DbConnection,
    items: &[ToRecord<'_>],
    reads_from: &[NaiveDateTime],
    histories: Option<&HistoryCache>,
    written: &mut HashMap<i64, StoredHistory>,
    counts: &mut NewCounts,
) -> Result<Vec<RecordedIncident>> {
    let mut ids: Vec<i64> = items
        .iter()
        .flat_map(|item| item.new.pupil_ids.iter().copied())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let locked = lock_pupils(conn, &ids)?;
    let involved = items
        .iter()
        .map(|item| pupils_of(&locked, item.school_id, &item.new.pupil_ids))
        .collect::<Result<Vec<_>>>()?;
    let logged = insert_incidents(conn, items)?;

    let mut links = Vec::with_capacity(ids.len());
    let mut placed = Vec::new();
    let mut decided = Vec::new();
    let mut recorded = Vec::with_capacity(items.len());
    // Each pupil as the round's incidents so far leave them (row and history), and the
    // position of the last incident naming them.
    let mut seen: HashMap<i64, (PupilRow, StoredHistory)> = HashMap::new();
    let mut last_named: HashMap<i64, usize> = HashMap::new();
    for (position, (((item, incident), involved), since)) in items
        .iter()
        .zip(logged)
        .zip(involved)
        .zip(reads_from.iter().copied())
        .enumerate()
    {
        let new = item.new;
        let rules = item.rules;
        let fact = IncidentFact {
            id: incident.id,
            occurred_at: new.occurred_at,
            severity: new.severity,
            response: new.response,
        };
        let occurred_at = incident.occurred_at;
        counts.add_pupil_days(
            item.school_id,
            &new.pupil_ids,
            SchoolCalendar::local_date(new.occurred_at),
            1,
        );
        counts.add_groupings(
            item.school_id,
            &super::insight::grouped_fact(
                new.occurred_at,
                &new.behaviour,
                new.location.as_deref(),
                new.lesson.as_deref(),
                item.reporter_id,
            ),
            involved.len(),
            1,
            &rules.timetable,
        );

        let mut changes = Vec::new();
        for (locked_pupil, stamp) in involved {
            links.push((
                incident_pupils::incident_id.eq(incident.id),
                incident_pupils::pupil_id.eq(locked_pupil.id),
                incident_pupils::school_id.eq(item.school_id),
                incident_pupils::occurred_at.eq(occurred_at),
            ));
            last_named.insert(locked_pupil.id, position);
            // The pupil and their history before this incident: as an earlier incident of
            // this round left them; or the history left by an earlier round, kept, or read
            // (before the incident is linked to them, so it is added once, here).
            let (pupil, mut history) = match seen.remove(&locked_pupil.id) {
                Some(earlier) => earlier,
                None => {
                    let earlier = written
                        .remove(&locked_pupil.id)
                        .filter(|history| history.serves(stamp, since, locked_pupil.level_since));
                    let history = match (earlier, histories) {
                        (Some(history), _) => history,
                        (None, Some(cache)) => cache.history(conn, &locked_pupil, stamp, since)?,
                        (None, None) => StoredHistory::load(conn, &locked_pupil, since, stamp)?,
                    };
                    (locked_pupil, history)
                }
            };
            history.add_incident(fact);

            let mut current = pupil.clone();
            current.last_incident_at = Some(
                pupil
                    .last_incident_at
                    .map_or(occurred_at, |last| last.max(occurred_at)),
            );
            if new.response == Response::Prompt && pupil.level == Level::None.number() {
                changes.push(note_start_at_prompt(
                    conn,
                    &pupil,
                    item.reporter_id,
                    new.occurred_at,
                )?);
                current.level = Level::Prompt.number();
                current.level_since = occurred_at;
                placed.push(LevelUpdate {
                    id: pupil.id,
                    level: current.level,
                    level_since: current.level_since,
                });
            }
            let found = evaluation::decide_after_incident(
                rules,
                history.view(&current, since),
                new.occurred_at,
                item.now,
            );
            for suggestion in &found {
                history.add_open_suggestion(suggestion.to);
            }
            if !found.is_empty() {
                decided.push((position, current.clone(), rules, found, item.now));
            }
            seen.insert(pupil.id, (current, history));
        }
        recorded.push(RecordedIncident {
            incident,
            pupil_ids: new.pupil_ids.clone(),
            level_changes: changes,
            suggestions: Vec::new(),
            histories: Vec::new(),
        });
    }
    // The suggestions of the whole round, in one insert.
    let to_store: Vec<_> = decided
        .iter()
        .map(|(_, pupil, rules, found, now)| (pupil, *rules, &found[..], *now))
        .collect();
    let stored = evaluation::store_all_suggestions(conn, &to_store)?;
    for ((position, ..), suggestions) in decided.iter().zip(stored) {
        recorded[*position].suggestions.extend(suggestions);
    }

    super::on_each_engine!(conn, |c| diesel::insert_into(incident_pupils::table)
        .values(links)
        .execute(c)?);
    // Linking moved each pupil's last incident and history stamp (a database trigger does
    // both); the stamps are read last, once every write of the round is done.
    let stamps = place_and_stamp(conn, &placed, &ids)?;
    // Each pupil's history as the round leaves it goes with the last incident naming them,
    // so that only the newest is kept.
    for (pupil_id, (_, mut history)) in seen {
        history.stamp = stamps.get(&pupil_id).copied().unwrap_or(history.stamp);
        written.insert(pupil_id, history.clone());
        if let Some(position) = last_named.get(&pupil_id) {
            recorded[*position].histories.push((pupil_id, history));
        }
    }
    Ok(recorded)
}

/// Inserts the incidents in one statement and answers their rows, in the order given.
fn insert_incidents(conn: &mut DbConnection, items: &[ToRecord<'_>]) -> Result<Vec<IncidentRow>> {
    let rows: Vec<_> = items
        .iter()
        .map(|item| {
            let new = item.new;
            (
                incidents::school_id.eq(item.school_id),
                incidents::reported_by.eq(item.reporter_id),
                incidents::occurred_at.eq(to_db_time(new.occurred_at)),
                incidents::behaviour.eq(&new.behaviour),
                incidents::severity.eq(new.severity.as_str()),
                incidents::response.eq(new.response.as_str()),
                incidents::location.eq(&new.location),
                incidents::lesson.eq(&new.lesson),
                incidents::note.eq(&new.note),
                incidents::created_at.eq(to_db_time(item.now)),
            )
        })
        .collect();
    // Rows are read back with RETURNING rather than a second query. Both engines give them in
    // the order of the VALUES; that is checked, not assumed.
    let inserted: Vec<IncidentRow> =
        super::on_each_engine!(conn, |c| diesel::insert_into(incidents::table)
            .values(rows)
            .returning(incidents::all_columns)
            .get_results(c)?);
    let in_order = inserted.len() == items.len()
        && inserted.iter().zip(items).all(|(row, item)| {
            // Times are left out: PostgreSQL keeps them to the microsecond.
            row.school_id == item.school_id
                && row.reported_by == item.reporter_id
                && row.behaviour == item.new.behaviour
                && row.location == item.new.location
                && row.lesson == item.new.lesson
                && row.note == item.new.note
        });
    if !in_order {
        return Err(Error::Internal(
            "the incidents inserted came back in another order".into(),
        ));
    }
    Ok(inserted)
}

/// Moves the pupils `placed` to their new level, then answers the history stamp of each of
/// `pupils` (read in one statement).
fn place_and_stamp(
    conn: &mut DbConnection,
    placed: &[LevelUpdate],
    pupils: &[i64],
) -> Result<HashMap<i64, i64>> {
    match conn {
        DbConnection::Postgres(pg) => {
            if !placed.is_empty() {
                // `pupils.id = ANY($1)` lets PostgreSQL find the rows by their index, rather
                // than read the whole table to join it with the list.
                diesel::sql_query(
                    "UPDATE pupils SET level = v.level, level_since = v.level_since \
                     FROM unnest($1::bigint[], $2::smallint[], $3::timestamp[]) \
                     AS v(id, level, level_since) \
                     WHERE pupils.id = v.id AND pupils.id = ANY($1)",
                )
                .bind::<Array<BigInt>, _>(placed.iter().map(|p| p.id).collect::<Vec<_>>())
                .bind::<Array<SmallInt>, _>(placed.iter().map(|p| p.level).collect::<Vec<_>>())
                .bind::<Array<Timestamp>, _>(
                    placed.iter().map(|p| p.level_since).collect::<Vec<_>>(),
                )
                .execute(pg)?;
            }
            let stamps: Vec<(i64, i64)> = pupils::table
                .filter(pupils::id.eq_any(pupils))
                .select((pupils::id, pupils::history_stamp))
                .load(pg)?;
            Ok(stamps.into_iter().collect())
        }
        DbConnection::Sqlite(lite) => {
            for update in placed {
                diesel::update(pupils::table.find(update.id))
                    .set((
                        pupils::level.eq(update.level),
                        pupils::level_since.eq(update.level_since),
                    ))
                    .execute(lite)?;
            }
            let stamps: Vec<(i64, i64)> = pupils::table
                .filter(sqlite_pupil_listed(pupils)?)
                .select((pupils::id, pupils::history_stamp))
                .load(lite)?;
            Ok(stamps.into_iter().collect())
        }
    }
}

/// Notes that a pupil with no level starts at Coaching Prompt (the prompt just logged is that
/// support); the caller moves the pupil's own row.
fn note_start_at_prompt(
    conn: &mut DbConnection,
    pupil: &PupilRow,
    by: i64,
    at: DateTime<Utc>,
) -> Result<LevelChangeRow> {
    let at = to_db_time(at);
    Ok(diesel::insert_into(level_changes::table)
        .values((
            level_changes::school_id.eq(pupil.school_id),
            level_changes::pupil_id.eq(pupil.id),
            level_changes::from_level.eq(Level::None.number()),
            level_changes::to_level.eq(Level::Prompt.number()),
            level_changes::reason.eq("A Coaching Prompt was logged."),
            level_changes::changed_by.eq(Some(by)),
            level_changes::is_override.eq(false),
            level_changes::occurred_at.eq(at),
        ))
        .returning(level_changes::all_columns)
        .get_result(conn)?)
}

/// An incident of the school, with the ids of its pupils.
pub fn get(
    conn: &mut DbConnection,
    school_id: i64,
    incident_id: i64,
) -> Result<(IncidentRow, Vec<i64>)> {
    let incident = incidents::table
        .filter(incidents::id.eq(incident_id))
        .filter(incidents::school_id.eq(school_id))
        .select(IncidentRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(Error::NotFound("incident"))?;
    let pupil_ids = incident_pupils::table
        .filter(incident_pupils::incident_id.eq(incident_id))
        .order(incident_pupils::pupil_id)
        .select(incident_pupils::pupil_id)
        .load(conn)?;
    Ok((incident, pupil_ids))
}

/// Checks that `staff_id` wrote the incident and is still within the author's window.
fn check_author(incident: &IncidentRow, staff_id: i64, now: DateTime<Utc>) -> Result<()> {
    if incident.reported_by != staff_id {
        return Err(Error::Forbidden(
            "only the adult who logged an incident may change it".into(),
        ));
    }
    if incident.voided_at.is_some() {
        return Err(Error::unprocessable("this incident has been undone"));
    }
    if to_db_time(now) - incident.created_at > AUTHOR_WINDOW {
        return Err(Error::unprocessable(format!(
            "an incident can be changed for {} minutes after logging; ask a pastoral lead to correct it",
            AUTHOR_WINDOW.num_minutes()
        )));
    }
    Ok(())
}

/// Undoes an incident its author logged moments ago: it stops counting, and suggestions
/// that rested on it are withdrawn. Audited.
pub fn void(
    conn: &mut DbConnection,
    school_id: i64,
    staff_id: i64,
    incident_id: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    let (incident, pupil_ids) = get(conn, school_id, incident_id)?;
    check_author(&incident, staff_id, now)?;
    diesel::update(incidents::table.find(incident_id))
        .set(incidents::voided_at.eq(to_db_time(now)))
        .execute(conn)?;
    if incident.voided_at.is_none() {
        let at = super::from_db_time(incident.occurred_at);
        uncount_groupings(conn, school_id, &incident, pupil_ids.len())?;
        super::insight::count_incident(conn, school_id, &pupil_ids, at, -1)?;
    }
    let open: Vec<(i64, String)> = suggestions::table
        .inner_join(incident_pupils::table.on(incident_pupils::pupil_id.eq(suggestions::pupil_id)))
        .filter(incident_pupils::incident_id.eq(incident_id))
        .filter(suggestions::status.eq("open"))
        .select((suggestions::id, suggestions::evidence))
        .load(conn)?;
    for (suggestion_id, evidence) in open {
        let ids: Vec<i64> = serde_json::from_str(&evidence).unwrap_or_default();
        if ids.contains(&incident_id) {
            diesel::update(suggestions::table.find(suggestion_id))
                .set((
                    suggestions::status.eq("withdrawn"),
                    suggestions::decided_at.eq(to_db_time(now)),
                    suggestions::decision_note.eq("An incident it rested on was undone."),
                ))
                .execute(conn)?;
        }
    }
    audit::record(
        conn,
        AuditEntry {
            school_id,
            actor_id: Some(staff_id),
            action: "incident.undo",
            entity: "incident",
            entity_id: Some(incident_id),
            detail: "undone by its author".into(),
            at: to_db_time(now),
        },
    )
}

/// The details an author may correct after logging.
#[derive(Debug, Clone)]
pub struct IncidentEdit {
    pub behaviour: String,
    pub location: Option<String>,
    pub lesson: Option<String>,
    pub note: Option<String>,
}

/// Corrects an incident's details within the author's window; the audit log records which
/// fields changed (never their text).
pub fn edit(
    conn: &mut DbConnection,
    school_id: i64,
    staff_id: i64,
    incident_id: i64,
    change: &IncidentEdit,
    now: DateTime<Utc>,
) -> Result<()> {
    let (incident, pupil_ids) = get(conn, school_id, incident_id)?;
    check_author(&incident, staff_id, now)?;
    let mut changed = Vec::new();
    if incident.behaviour != change.behaviour {
        changed.push("behaviour");
    }
    if incident.location != change.location {
        changed.push("location");
    }
    if incident.lesson != change.lesson {
        changed.push("lesson");
    }
    if incident.note != change.note {
        changed.push("note");
    }
    if changed.is_empty() {
        return Ok(());
    }
    diesel::update(incidents::table.find(incident_id))
        .set((
            incidents::behaviour.eq(&change.behaviour),
            incidents::location.eq(&change.location),
            incidents::lesson.eq(&change.lesson),
            incidents::note.eq(&change.note),
            incidents::edited_at.eq(to_db_time(now)),
        ))
        .execute(conn)?;
    // The daily groupings move from what it was to what it is now.
    let timetable = super::timetable::load(conn, school_id)?;
    uncount_groupings(conn, school_id, &incident, pupil_ids.len())?;
    super::insight::count_incident_groupings(
        conn,
        school_id,
        &super::insight::grouped_fact(
            super::from_db_time(incident.occurred_at),
            &change.behaviour,
            change.location.as_deref(),
            change.lesson.as_deref(),
            incident.reported_by,
        ),
        pupil_ids.len(),
        1,
        &timetable,
    )?;
    audit::record(
        conn,
        AuditEntry {
            school_id,
            actor_id: Some(staff_id),
            action: "incident.edit",
            entity: "incident",
            entity_id: Some(incident_id),
            detail: format!("changed: {}", changed.join(", ")),
            at: to_db_time(now),
        },
    )
}

/// Deletes incidents of the school that no pupil is linked to any more, with everything that
/// points at them: the conversations' links to them, their place in suggestions' evidence
/// lists, and the answers kept for the keyed requests that logged them. In the caller's
/// transaction; the caller has removed their pupils and per-day counts.
pub fn delete_unlinked(conn: &mut DbConnection, school_id: i64, ids: &[i64]) -> Result<usize> {
    if ids.is_empty() {
        return Ok(0);
    }
    let still_linked: Vec<i64> = incident_pupils::table
        .filter(incident_pupils::incident_id.eq_any(ids))
        .select(incident_pupils::incident_id)
        .distinct()
        .load(conn)?;
    let gone: Vec<i64> = ids
        .iter()
        .copied()
        .filter(|id| !still_linked.contains(id))
        .collect();
    if gone.is_empty() {
        return Ok(0);
    }
    diesel::delete(
        conversation_incidents::table.filter(conversation_incidents::incident_id.eq_any(&gone)),
    )
    .execute(conn)?;
    drop_from_evidence(conn, school_id, &gone)?;
    super::idempotency::forget_answers_about(conn, school_id, &gone)?;
    Ok(diesel::delete(
        incidents::table
            .filter(incidents::school_id.eq(school_id))
            .filter(incidents::id.eq_any(&gone)),
    )
    .execute(conn)?)
}

/// Takes erased incidents out of the evidence lists of the school's suggestions.
fn drop_from_evidence(conn: &mut DbConnection, school_id: i64, gone: &[i64]) -> Result<()> {
    let listed: Vec<(i64, String)> = suggestions::table
        .filter(suggestions::school_id.eq(school_id))
        .select((suggestions::id, suggestions::evidence))
        .load(conn)?;
    for (suggestion_id, evidence) in listed {
        let ids: Vec<i64> = serde_json::from_str(&evidence).unwrap_or_default();
        if ids.iter().any(|id| gone.contains(id)) {
            let kept: Vec<i64> = ids.into_iter().filter(|id| !gone.contains(id)).collect();
            let kept = serde_json::to_string(&kept)
                .map_err(|e| Error::Internal(format!("writing an evidence list: {e}")))?;
            diesel::update(suggestions::table.find(suggestion_id))
                .set(suggestions::evidence.eq(kept))
                .execute(conn)?;
        }
    }
    Ok(())
}

/// Takes an incident that counted (for `pupils` pupils) out of the whole school's daily
/// groupings, when it is undone, erased or changed.
fn uncount_groupings(
    conn: &mut DbConnection,
    school_id: i64,
    incident: &IncidentRow,
    pupils: usize,
) -> Result<()> {
    let timetable = super::timetable::load(conn, school_id)?;
    super::insight::count_incident_groupings(
        conn,
        school_id,
        &super::insight::grouped_fact(
            super::from_db_time(incident.occurred_at),
            &incident.behaviour,
            incident.location.as_deref(),
            incident.lesson.as_deref(),
            incident.reported_by,
        ),
        pupils,
        -1,
        &timetable,
    )
}

/// Sets each pupil's time of their last incident from the incidents they still have.
fn refresh_last_incident(conn: &mut DbConnection, pupil_ids: &[i64]) -> Result<()> {
    for pupil_id in pupil_ids {
        let last: Option<chrono::NaiveDateTime> = incident_pupils::table
            .inner_join(incidents::table)
            .filter(incident_pupils::pupil_id.eq(pupil_id))
            .filter(incidents::voided_at.is_null())
            .select(diesel::dsl::max(incident_pupils::occurred_at))
            .first(conn)?;
        diesel::update(pupils::table.find(pupil_id))
            .set(pupils::last_incident_at.eq(last))
            .execute(conn)?;
    }
    Ok(())
}

/// Erases an incident on request (SLT, administrator) with everything hanging from it: its
/// pupils' links and per-day counts, the conversations' links to it, its place in evidence
/// lists (an open suggestion that rested on it is withdrawn) and the kept answer to the
/// request that logged it. The audit entry holds who, when, the record and the reason, never
/// its content. In the caller's transaction; answers the incident's pupils.
pub fn erase(
    conn: &mut DbConnection,
    school_id: i64,
    staff_id: i64,
    incident_id: i64,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Vec<i64>> {
    let (incident, pupil_ids) = get(conn, school_id, incident_id)?;
    if incident.voided_at.is_none() {
        let at = super::from_db_time(incident.occurred_at);
        uncount_groupings(conn, school_id, &incident, pupil_ids.len())?;
        super::insight::count_incident(conn, school_id, &pupil_ids, at, -1)?;
    }
    let resting: Vec<(i64, String)> = suggestions::table
        .filter(suggestions::school_id.eq(school_id))
        .filter(suggestions::pupil_id.eq_any(&pupil_ids))
        .filter(suggestions::status.eq("open"))
        .select((suggestions::id, suggestions::evidence))
        .load(conn)?;
    for (suggestion_id, evidence) in resting {
        let ids: Vec<i64> = serde_json::from_str(&evidence).unwrap_or_default();
        if ids.contains(&incident_id) {
            diesel::update(suggestions::table.find(suggestion_id))
                .set((
                    suggestions::status.eq("withdrawn"),
                    suggestions::decided_at.eq(to_db_time(now)),
                    suggestions::decision_note.eq("An incident it rested on was erased."),
                ))
                .execute(conn)?;
        }
    }
    diesel::delete(incident_pupils::table.filter(incident_pupils::incident_id.eq(incident_id)))
        .execute(conn)?;
    delete_unlinked(conn, school_id, &[incident_id])?;
    refresh_last_incident(conn, &pupil_ids)?;
    audit::record(
        conn,
        AuditEntry {
            school_id,
            actor_id: Some(staff_id),
            action: "incident.erase",
            entity: "incident",
            entity_id: Some(incident_id),
            detail: format!(
                "pupil(s) {}; erased on request: {reason}",
                pupil_ids
                    .iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            at: to_db_time(now),
        },
    )?;
    Ok(pupil_ids)
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, NaiveDateTime};

    use super::rounds_of;

    fn at(hour: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 12, 7)
            .and_then(|day| day.and_hms_opt(hour, 0, 0))
            .expect("a time")
    }

    #[test]
    fn a_pupil_named_again_stays_in_the_round() {
        let incidents: [(&[i64], NaiveDateTime); 4] = [
            (&[1], at(8)),
            (&[2], at(8)),
            (&[1], at(8)),
            (&[3, 1], at(9)),
        ];
        assert_eq!(rounds_of(&incidents), vec![vec![0, 1, 2, 3]]);
        assert!(rounds_of(&[]).is_empty());
    }

    #[test]
    fn an_incident_reading_further_back_than_its_pupils_first_waits_for_the_next_round() {
        let incidents: [(&[i64], NaiveDateTime); 5] = [
            (&[1], at(9)),
            (&[2], at(9)),
            (&[1, 2], at(8)),
            (&[3], at(7)),
            (&[2], at(9)),
        ];
        assert_eq!(
            rounds_of(&incidents),
            vec![vec![0, 1, 3], vec![2, 4]],
            "the third reads from 8:00, before the first and second did: a round of its own, \
             and the pupil's later incidents follow it there"
        );
    }
}
