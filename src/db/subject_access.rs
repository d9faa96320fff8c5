//! Gathering a pupil's record to give out: everything held about them for a subject access
//! request, or what their next school needs ([`crate::domain::subject_access`] shapes it and
//! holds back what names other pupils). Every table holding a pupil's id, directly or through
//! a parent row, is read here: the pupil, incidents, conversations, level changes,
//! suggestions, meetings with their participants, guests and emails, plans, programme blocks
//! and sessions, provision and its reviews, the audit of reads, teaching groups and the daily
//! incident counts. Each record given out is audited in the same transaction.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use diesel::prelude::*;

use super::audit::{self, AuditEntry, Read};
use super::models::{
    IncidentRow, LevelChangeRow, MeetingGuestRow, MeetingRow, OutboxRow, PupilRow, SuggestionRow,
};
use super::pupils::{self, PupilView};
use super::schema::{
    audit_log, conversation_incidents, conversations, incident_pupils, incidents, level_changes,
    meeting_guests, meeting_participants, meetings, outbox, pupil_day_incidents,
    pupils as pupils_table, staff, suggestions, teaching_group_members, teaching_groups,
};
use super::staff::StaffMember;
use super::{from_db_time, plans, programmes, provision, schools, to_db_time, DbConnection};
use crate::domain::calendar::{SchoolCalendar, SCHOOL_TZ};
use crate::domain::subject_access::{
    Heading, OtherPupil, PupilRecord, RecordKind, RecordType, Row, Section,
};
use crate::domain::visibility::Record;
use crate::domain::{format_pounds, Level};
use crate::error::{Error, Result};

/// The form a record is given out in, as the audit log names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// The readable page.
    Page,
    /// The ZIP downloaded from the page.
    Zip,
    /// The ZIP fetched through the API.
    Api,
    /// The ZIP written by `steadfast export pupil`.
    Command,
}

impl Form {
    /// The name stored in the audit entry's detail.
    pub fn as_str(self) -> &'static str {
        match self {
            Form::Page => "page",
            Form::Zip => "zip",
            Form::Api => "api",
            Form::Command => "command line",
        }
    }
}

impl RecordKind {
    fn read(self) -> Read {
        match self {
            RecordKind::SubjectAccess => Read::SubjectAccess,
            RecordKind::Transfer => Read::Transfer,
        }
    }

    fn rule(self) -> Record {
        match self {
            RecordKind::SubjectAccess => Record::SubjectAccess,
            RecordKind::Transfer => Record::TransferRecord,
        }
    }
}

/// The pupil's record of `kind`, for a member of staff, audited as given out in `form`: 404
/// for a pupil not of their school, 403 for a role the one rule does not allow.
pub fn for_staff(
    conn: &mut DbConnection,
    member: &StaffMember,
    pupil_id: i64,
    kind: RecordKind,
    form: Form,
    now: DateTime<Utc>,
) -> Result<PupilRecord> {
    let pupil = pupils::get(conn, member.school_id, pupil_id)?;
    if !member.may_read(pupil.place(), kind.rule()) {
        return Err(Error::Forbidden(match kind {
            RecordKind::SubjectAccess => {
                "a pupil's subject access record is for SLT and administrators".into()
            }
            RecordKind::Transfer => {
                "the record for a pupil's next school is for SLT, the SENDCO and administrators"
                    .into()
            }
        }));
    }
    let record = gather(conn, &pupil, kind, &member.name, now)?;
    audit::record_read(
        conn,
        member,
        kind.read(),
        Some(pupil.id),
        form.as_str().to_string(),
    )?;
    Ok(record)
}

/// Everything held about the pupil with `upn` at the school with `school_code`, for the
/// command line, audited as given out there.
pub fn for_command(
    conn: &mut DbConnection,
    school_code: &str,
    upn: &str,
    now: DateTime<Utc>,
) -> Result<PupilRecord> {
    let school = schools::find_by_code(conn, school_code)?
        .ok_or_else(|| Error::invalid("school", format!("no school has the code {school_code}")))?;
    let wanted = upn.trim().to_ascii_uppercase();
    let pupil_id: i64 = pupils_table::table
        .filter(pupils_table::school_id.eq(school.id))
        .filter(pupils_table::upn.eq(&wanted))
        .select(pupils_table::id)
        .first(conn)
        .optional()?
        .ok_or_else(|| {
            Error::invalid(
                "upn",
                format!("no pupil of {} has the UPN {wanted}", school.code),
            )
        })?;
    let pupil = pupils::get(conn, school.id, pupil_id)?;
    let record = gather(
        conn,
        &pupil,
        RecordKind::SubjectAccess,
        "the command line (steadfast export pupil)",
        now,
    )?;
    audit::record(
        conn,
        AuditEntry {
            school_id: school.id,
            actor_id: None,
            action: Read::SubjectAccess.action(),
            entity: "pupil",
            entity_id: Some(pupil.id),
            detail: Form::Command.as_str().to_string(),
            at: to_db_time(now),
        },
    )?;
    Ok(record)
}

/// A stored time as the record shows it: RFC 3339 in school time.
fn time(at: NaiveDateTime) -> String {
    from_db_time(at)
        .with_timezone(&SCHOOL_TZ)
        .to_rfc3339_opts(SecondsFormat::Secs, false)
}

fn maybe_time(at: Option<NaiveDateTime>) -> String {
    at.map(time).unwrap_or_default()
}

fn day(on: NaiveDate) -> String {
    on.to_string()
}

fn maybe_day(on: Option<NaiveDate>) -> String {
    on.map(day).unwrap_or_default()
}

fn maybe<T: ToString>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.to_string()
}

fn maybe_yes_no(value: Option<bool>) -> String {
    value.map(yes_no).unwrap_or_default()
}

fn level_title(number: i16) -> String {
    Level::from_number(i64::from(number)).map_or_else(
        |_| number.to_string(),
        |level| format!("{} {}", level.number(), level.title()),
    )
}

/// The school's staff names by id (closed accounts too), to say who did what.
struct StaffNames(HashMap<i64, String>);

impl StaffNames {
    fn load(conn: &mut DbConnection, school_id: i64) -> Result<Self> {
        let rows: Vec<(i64, String)> = staff::table
            .filter(staff::school_id.eq(school_id))
            .select((staff::id, staff::name))
            .load(conn)?;
        Ok(StaffNames(rows.into_iter().collect()))
    }

    fn of(&self, id: i64) -> String {
        self.0
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("staff #{id}"))
    }

    fn of_maybe(&self, id: Option<i64>) -> String {
        id.map(|id| self.of(id)).unwrap_or_default()
    }
}

fn section(record_type: RecordType, rows: Vec<Vec<String>>) -> Section {
    Section {
        record_type,
        rows: rows.into_iter().map(Row::new).collect(),
    }
}

fn pupil_row(pupil: &PupilView, row: &PupilRow) -> Row {
    Row::new(vec![
        pupil.id.to_string(),
        time(row.created_at),
        pupil.upn.clone(),
        pupil.given_name.clone(),
        pupil.family_name.clone(),
        maybe_day(pupil.date_of_birth),
        pupil.year.to_string(),
        pupil.form.clone(),
        pupil.house.clone().unwrap_or_default(),
        pupil.sen_status.title().to_string(),
        pupil.level.number().to_string(),
        pupil.level.title().to_string(),
        pupil
            .level_since
            .with_timezone(&SCHOOL_TZ)
            .to_rfc3339_opts(SecondsFormat::Secs, false),
        maybe(row.programme_block),
        yes_no(row.had_plan),
        yes_no(row.programme_without_impact),
        maybe_time(row.last_incident_at),
        maybe_day(pupil.left_on),
    ])
}

/// Reads everything the record of `kind` holds about `pupil` and puts it together.
fn gather(
    conn: &mut DbConnection,
    pupil: &PupilView,
    kind: RecordKind,
    made_by: &str,
    now: DateTime<Utc>,
) -> Result<PupilRecord> {
    let school = schools::get(conn, pupil.school_id)?;
    let row: PupilRow = pupils_table::table
        .find(pupil.id)
        .select(PupilRow::as_select())
        .first(conn)?;
    let names = StaffNames::load(conn, pupil.school_id)?;
    let today = SchoolCalendar::local_date(now);
    let sections = match kind {
        RecordKind::SubjectAccess => everything(conn, pupil, &names, today)?,
        RecordKind::Transfer => for_next_school(conn, pupil, &names, today)?,
    };
    let others: Vec<OtherPupil> = pupils_table::table
        .filter(pupils_table::school_id.eq(pupil.school_id))
        .filter(pupils_table::id.ne(pupil.id))
        .select((
            pupils_table::upn,
            pupils_table::given_name,
            pupils_table::family_name,
        ))
        .load::<(String, String, String)>(conn)?
        .into_iter()
        .map(|(upn, given_name, family_name)| OtherPupil {
            upn,
            given_name,
            family_name,
        })
        .collect();
    let heading = Heading {
        school_code: school.code,
        school_name: school.name,
        generated_at: now
            .with_timezone(&SCHOOL_TZ)
            .to_rfc3339_opts(SecondsFormat::Secs, false),
        generated_by: made_by.to_string(),
    };
    PupilRecord::assemble(kind, heading, pupil_row(pupil, &row), sections, &others)
        .map_err(|e| Error::Internal(e.to_string()))
}

/// Every section of a subject access record.
fn everything(
    conn: &mut DbConnection,
    pupil: &PupilView,
    names: &StaffNames,
    today: NaiveDate,
) -> Result<Vec<Section>> {
    let (school_id, pupil_id) = (pupil.school_id, pupil.id);
    let contacts = super::contacts::list(conn, school_id, pupil_id)?;
    let mut sections = vec![
        section(
            RecordType::Contacts,
            contacts
                .into_iter()
                .map(|c| {
                    vec![
                        c.id.to_string(),
                        (c.position + 1).to_string(),
                        c.name.clone(),
                        c.relationship_title().to_string(),
                        c.email.unwrap_or_default(),
                        c.phone.unwrap_or_default(),
                        yes_no(c.invited),
                    ]
                })
                .collect(),
        ),
        incidents_of(conn, pupil_id, names)?,
        conversations_of(conn, school_id, pupil_id, names)?,
        level_changes_of(conn, school_id, pupil_id, names)?,
        suggestions_of(conn, school_id, pupil_id, names)?,
    ];
    sections.extend(meetings_of(conn, school_id, pupil_id, names)?);
    let versions = plans::versions(conn, school_id, pupil_id)?;
    sections.push(plans_section(versions.iter().rev(), names));
    let mut blocks = programmes::blocks_for(conn, school_id, pupil_id, today)?;
    blocks.reverse();
    sections.push(blocks_section(&blocks, names));
    sections.push(section(
        RecordType::ProgrammeSessions,
        blocks
            .iter()
            .flat_map(|view| &view.sessions)
            .map(|s| {
                vec![
                    s.id.to_string(),
                    day(s.on_date),
                    s.block_id.to_string(),
                    s.session_time.clone().unwrap_or_default(),
                    yes_no(s.is_final),
                    s.outcome.clone().unwrap_or_default(),
                    maybe(s.minutes),
                    s.delivered_by.clone().unwrap_or_default(),
                    s.note.clone().unwrap_or_default(),
                    s.reason.clone().unwrap_or_default(),
                    maybe_yes_no(s.parent_attended),
                    names.of_maybe(s.recorded_by),
                    maybe_time(s.recorded_at),
                ]
            })
            .collect(),
    ));
    let items = provision::items_for(conn, school_id, pupil_id)?;
    sections.push(items_section(items.iter().map(|v| &v.item), names));
    sections.push(section(
        RecordType::ProvisionReviews,
        items
            .iter()
            .flat_map(|view| &view.reviews)
            .map(|r| {
                vec![
                    r.id.to_string(),
                    day(r.reviewed_on),
                    r.item_id.to_string(),
                    r.assessment.clone(),
                    r.progress.clone(),
                    r.next_plan.clone().unwrap_or_default(),
                    r.decision.clone(),
                    maybe_day(r.next_review_on),
                    names.of(r.reviewed_by),
                ]
            })
            .collect(),
    ));
    sections.push(reads_of(conn, school_id, pupil_id, names)?);
    sections.push(teaching_groups_of(conn, pupil_id)?);
    sections.push(daily_counts_of(conn, pupil_id)?);
    Ok(sections)
}

/// What the pupil's next school needs: the plan in force, the current programme with its
/// sessions counted (not their notes), and the provision still running.
fn for_next_school(
    conn: &mut DbConnection,
    pupil: &PupilView,
    names: &StaffNames,
    today: NaiveDate,
) -> Result<Vec<Section>> {
    let (school_id, pupil_id) = (pupil.school_id, pupil.id);
    let plan = plans::current(conn, school_id, pupil_id)?;
    let plan_id = plan.as_ref().map(|p| p.row.id);
    let mut blocks = programmes::blocks_for(conn, school_id, pupil_id, today)?;
    blocks.retain(|view| {
        view.block.status == "running" || (plan_id.is_some() && view.block.plan_id == plan_id)
    });
    blocks.reverse();
    let summary = blocks
        .iter()
        .map(|view| {
            let count = |outcome: Option<&str>| {
                view.sessions
                    .iter()
                    .filter(|s| s.outcome.as_deref() == outcome)
                    .count()
                    .to_string()
            };
            vec![
                view.block.id.to_string(),
                day(view.block.starts_on),
                day(view.block.ends_on),
                view.block.weeks.to_string(),
                view.block.status.clone(),
                view.sessions.len().to_string(),
                count(Some("delivered")),
                count(Some("pupil_absent")),
                count(Some("not_delivered")),
                count(None),
            ]
        })
        .collect();
    let items = provision::items_for(conn, school_id, pupil_id)?;
    Ok(vec![
        plans_section(plan.iter(), names),
        blocks_section(&blocks, names),
        section(RecordType::ProgrammeSummary, summary),
        items_section(
            items
                .iter()
                .map(|v| &v.item)
                .filter(|item| item.status == "active"),
            names,
        ),
    ])
}

fn incidents_of(conn: &mut DbConnection, pupil_id: i64, names: &StaffNames) -> Result<Section> {
    let rows: Vec<IncidentRow> = incidents::table
        .inner_join(incident_pupils::table)
        .filter(incident_pupils::pupil_id.eq(pupil_id))
        .order((incidents::occurred_at, incidents::id))
        .select(IncidentRow::as_select())
        .load(conn)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut others: HashMap<i64, usize> = HashMap::new();
    for incident in incident_pupils::table
        .filter(incident_pupils::incident_id.eq_any(&ids))
        .filter(incident_pupils::pupil_id.ne(pupil_id))
        .select(incident_pupils::incident_id)
        .load::<i64>(conn)?
    {
        *others.entry(incident).or_default() += 1;
    }
    Ok(section(
        RecordType::Incidents,
        rows.into_iter()
            .map(|i| {
                vec![
                    i.id.to_string(),
                    time(i.occurred_at),
                    i.behaviour,
                    i.severity,
                    i.response,
                    i.location.unwrap_or_default(),
                    i.lesson.unwrap_or_default(),
                    i.note.unwrap_or_default(),
                    names.of(i.reported_by),
                    time(i.created_at),
                    maybe_time(i.edited_at),
                    maybe_time(i.voided_at),
                    yes_no(i.imported),
                    others.get(&i.id).copied().unwrap_or(0).to_string(),
                ]
            })
            .collect(),
    ))
}

type ConversationColumns = (
    i64,
    NaiveDateTime,
    i64,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
);

fn conversations_of(
    conn: &mut DbConnection,
    school_id: i64,
    pupil_id: i64,
    names: &StaffNames,
) -> Result<Section> {
    let rows: Vec<ConversationColumns> = conversations::table
        .filter(conversations::school_id.eq(school_id))
        .filter(conversations::pupil_id.eq(pupil_id))
        .order((conversations::held_at, conversations::id))
        .select((
            conversations::id,
            conversations::held_at,
            conversations::held_by,
            conversations::with_whom,
            conversations::what_happened,
            conversations::what_got_in_the_way,
            conversations::what_could_help,
            conversations::plan_next_time,
            conversations::good_for_everyone,
        ))
        .load(conn)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let mut followed: HashMap<i64, Vec<String>> = HashMap::new();
    for (conversation, incident) in conversation_incidents::table
        .filter(conversation_incidents::conversation_id.eq_any(&ids))
        .order(conversation_incidents::incident_id)
        .select((
            conversation_incidents::conversation_id,
            conversation_incidents::incident_id,
        ))
        .load::<(i64, i64)>(conn)?
    {
        followed
            .entry(conversation)
            .or_default()
            .push(incident.to_string());
    }
    Ok(section(
        RecordType::Conversations,
        rows.into_iter()
            .map(
                |(id, held_at, held_by, with, what, way, help, plan, good)| {
                    vec![
                        id.to_string(),
                        time(held_at),
                        names.of(held_by),
                        with.unwrap_or_default(),
                        what,
                        way.unwrap_or_default(),
                        help.unwrap_or_default(),
                        plan,
                        good.unwrap_or_default(),
                        followed.remove(&id).unwrap_or_default().join(" "),
                    ]
                },
            )
            .collect(),
    ))
}

fn level_changes_of(
    conn: &mut DbConnection,
    school_id: i64,
    pupil_id: i64,
    names: &StaffNames,
) -> Result<Section> {
    let rows: Vec<LevelChangeRow> = level_changes::table
        .filter(level_changes::school_id.eq(school_id))
        .filter(level_changes::pupil_id.eq(pupil_id))
        .order((level_changes::occurred_at, level_changes::id))
        .select(LevelChangeRow::as_select())
        .load(conn)?;
    Ok(section(
        RecordType::LevelChanges,
        rows.into_iter()
            .map(|c| {
                vec![
                    c.id.to_string(),
                    time(c.occurred_at),
                    level_title(c.from_level),
                    level_title(c.to_level),
                    c.reason,
                    names.of_maybe(c.changed_by),
                    maybe(c.suggestion_id),
                    yes_no(c.is_override),
                ]
            })
            .collect(),
    ))
}

fn suggestions_of(
    conn: &mut DbConnection,
    school_id: i64,
    pupil_id: i64,
    names: &StaffNames,
) -> Result<Section> {
    let rows: Vec<SuggestionRow> = suggestions::table
        .filter(suggestions::school_id.eq(school_id))
        .filter(suggestions::pupil_id.eq(pupil_id))
        .order((suggestions::created_at, suggestions::id))
        .select(SuggestionRow::as_select())
        .load(conn)?;
    Ok(section(
        RecordType::Suggestions,
        rows.into_iter()
            .map(|s| {
                let evidence: Vec<i64> = serde_json::from_str(&s.evidence).unwrap_or_default();
                vec![
                    s.id.to_string(),
                    time(s.created_at),
                    level_title(s.from_level),
                    level_title(s.to_level),
                    s.rule,
                    s.reason,
                    evidence
                        .iter()
                        .map(i64::to_string)
                        .collect::<Vec<_>>()
                        .join(" "),
                    s.status,
                    names.of_maybe(s.decided_by),
                    maybe_time(s.decided_at),
                    s.decision_note.unwrap_or_default(),
                    maybe_day(s.snoozed_until),
                ]
            })
            .collect(),
    ))
}

/// The meetings, their participants and guests, and the emails sent about them (the outbox
/// keys every meeting email `meeting-{id}-...`; bodies are left out).
fn meetings_of(
    conn: &mut DbConnection,
    school_id: i64,
    pupil_id: i64,
    names: &StaffNames,
) -> Result<Vec<Section>> {
    let rows: Vec<MeetingRow> = meetings::table
        .filter(meetings::school_id.eq(school_id))
        .filter(meetings::pupil_id.eq(pupil_id))
        .order((meetings::due_on, meetings::id))
        .select(MeetingRow::as_select())
        .load(conn)?;
    let ids: Vec<i64> = rows.iter().map(|m| m.id).collect();
    let due: HashMap<i64, String> = rows.iter().map(|m| (m.id, day(m.due_on))).collect();
    let due_of = |id: i64| due.get(&id).cloned().unwrap_or_default();
    let participants: Vec<(i64, i64)> = meeting_participants::table
        .filter(meeting_participants::meeting_id.eq_any(&ids))
        .order((
            meeting_participants::meeting_id,
            meeting_participants::staff_id,
        ))
        .select((
            meeting_participants::meeting_id,
            meeting_participants::staff_id,
        ))
        .load(conn)?;
    let guests: Vec<MeetingGuestRow> = meeting_guests::table
        .filter(meeting_guests::meeting_id.eq_any(&ids))
        .order((meeting_guests::meeting_id, meeting_guests::id))
        .select(MeetingGuestRow::as_select())
        .load(conn)?;
    let mut emails: Vec<(i64, OutboxRow)> = Vec::new();
    for id in &ids {
        let sent: Vec<OutboxRow> = outbox::table
            .filter(outbox::school_id.eq(school_id))
            .filter(outbox::message_key.like(format!("meeting-{id}-%")))
            .order(outbox::id)
            .select(OutboxRow::as_select())
            .load(conn)?;
        emails.extend(sent.into_iter().map(|row| (*id, row)));
    }
    emails.sort_by_key(|(_, row)| (row.created_at, row.id));
    let meetings = section(
        RecordType::Meetings,
        rows.into_iter()
            .map(|m| {
                vec![
                    m.id.to_string(),
                    day(m.due_on),
                    level_title(m.level),
                    m.purpose,
                    m.status,
                    maybe_time(m.starts_at),
                    maybe(m.duration_minutes),
                    m.location.unwrap_or_default(),
                    yes_no(m.parent_invited),
                    maybe_time(m.held_at),
                    m.summary.unwrap_or_default(),
                    maybe_yes_no(m.goals_met),
                    m.follow_up.unwrap_or_default(),
                    m.successes.unwrap_or_default(),
                    m.challenges.unwrap_or_default(),
                    m.focus.unwrap_or_default(),
                    m.action_steps.unwrap_or_default(),
                    m.next_step.unwrap_or_default(),
                    m.cancel_reason.unwrap_or_default(),
                ]
            })
            .collect(),
    );
    Ok(vec![
        meetings,
        section(
            RecordType::MeetingParticipants,
            participants
                .into_iter()
                .map(|(meeting, member)| {
                    vec![meeting.to_string(), due_of(meeting), names.of(member)]
                })
                .collect(),
        ),
        section(
            RecordType::MeetingGuests,
            guests
                .into_iter()
                .map(|g| {
                    vec![
                        g.id.to_string(),
                        due_of(g.meeting_id),
                        g.meeting_id.to_string(),
                        g.name,
                        g.email.unwrap_or_default(),
                        g.role,
                        g.response.unwrap_or_default(),
                        g.response_note.unwrap_or_default(),
                        maybe_time(g.responded_at),
                    ]
                })
                .collect(),
        ),
        section(
            RecordType::Emails,
            emails
                .into_iter()
                .map(|(meeting, e)| {
                    vec![
                        e.id.to_string(),
                        time(e.created_at),
                        e.subject,
                        e.recipient,
                        e.status,
                        maybe_time(e.sent_at),
                        meeting.to_string(),
                    ]
                })
                .collect(),
        ),
    ])
}

fn plans_section<'a>(
    versions: impl Iterator<Item = &'a plans::PlanVersion>,
    names: &StaffNames,
) -> Section {
    section(
        RecordType::Plans,
        versions
            .map(|plan| {
                let goals: Vec<String> = plan
                    .goals
                    .iter()
                    .enumerate()
                    .map(|(n, goal)| {
                        format!(
                            "{}. {} (success: {})",
                            n + 1,
                            goal.text,
                            goal.success_criterion
                        )
                    })
                    .collect();
                let steps: Vec<String> = plan
                    .action_steps
                    .iter()
                    .map(|step| format!("{} ({}, by {})", step.what, step.owner, step.by_when))
                    .collect();
                vec![
                    plan.row.id.to_string(),
                    time(plan.row.created_at),
                    plan.row.version.to_string(),
                    goals.join("\n"),
                    plan.row.pathway_to_independence.clone(),
                    steps.join("\n"),
                    day(plan.row.review_on),
                    plan.row.agreed_with.clone().unwrap_or_default(),
                    names.of(plan.row.created_by),
                    maybe(plan.row.meeting_id),
                ]
            })
            .collect(),
    )
}

fn blocks_section(blocks: &[programmes::BlockView], names: &StaffNames) -> Section {
    section(
        RecordType::ProgrammeBlocks,
        blocks
            .iter()
            .map(|view| {
                let b = &view.block;
                let practitioner = b
                    .practitioner_name
                    .clone()
                    .or_else(|| b.practitioner_id.map(|id| names.of(id)))
                    .unwrap_or_default();
                let at_review = match (b.delivered_at_review, b.planned_at_review) {
                    (Some(delivered), Some(planned)) => format!("{delivered} / {planned}"),
                    _ => String::new(),
                };
                vec![
                    b.id.to_string(),
                    day(b.starts_on),
                    day(b.ends_on),
                    b.weeks.to_string(),
                    b.sessions_per_week.to_string(),
                    b.weekdays.clone(),
                    b.minutes.to_string(),
                    b.session_time.clone().unwrap_or_default(),
                    b.place.clone(),
                    b.led_by.clone(),
                    practitioner,
                    b.status.clone(),
                    b.decision.clone().unwrap_or_default(),
                    b.decision_reason.clone().unwrap_or_default(),
                    at_review,
                    maybe_time(b.reviewed_at),
                    names.of_maybe(b.reviewed_by),
                    maybe(b.plan_id),
                ]
            })
            .collect(),
    )
}

fn items_section<'a>(
    items: impl Iterator<Item = &'a super::models::ProvisionItemRow>,
    names: &StaffNames,
) -> Section {
    section(
        RecordType::ProvisionItems,
        items
            .map(|item| {
                vec![
                    item.id.to_string(),
                    day(item.starts_on),
                    item.what.clone(),
                    yes_no(item.external),
                    item.provider_name.clone(),
                    item.frequency_per_week.to_string(),
                    item.session_minutes.to_string(),
                    day(item.review_on),
                    day(item.ends_on),
                    format_pounds(u64::try_from(item.cost_per_session_pence).unwrap_or(0)),
                    item.entry_data.clone(),
                    item.target.clone(),
                    item.exit_data.clone().unwrap_or_default(),
                    item.outcome.clone().unwrap_or_default(),
                    item.status.clone(),
                    names.of(item.created_by),
                ]
            })
            .collect(),
    )
}

/// Who opened the pupil's sensitive records (and gave their record out before), oldest first.
fn reads_of(
    conn: &mut DbConnection,
    school_id: i64,
    pupil_id: i64,
    names: &StaffNames,
) -> Result<Section> {
    let actions: Vec<&str> = Read::OF_A_PUPIL.iter().map(|r| r.action()).collect();
    let rows: Vec<(i64, NaiveDateTime, Option<i64>, String, String)> = audit_log::table
        .filter(audit_log::school_id.eq(school_id))
        .filter(audit_log::entity.eq("pupil"))
        .filter(audit_log::entity_id.eq(pupil_id))
        .filter(audit_log::action.eq_any(actions))
        .order((audit_log::at, audit_log::id))
        .select((
            audit_log::id,
            audit_log::at,
            audit_log::actor_id,
            audit_log::action,
            audit_log::detail,
        ))
        .load(conn)?;
    Ok(section(
        RecordType::Reads,
        rows.into_iter()
            .map(|(id, at, actor, action, detail)| {
                vec![
                    id.to_string(),
                    time(at),
                    actor.map_or_else(|| "the command line".to_string(), |id| names.of(id)),
                    action,
                    detail,
                ]
            })
            .collect(),
    ))
}

fn teaching_groups_of(conn: &mut DbConnection, pupil_id: i64) -> Result<Section> {
    let rows: Vec<(i64, String, String, Option<String>)> = teaching_groups::table
        .inner_join(teaching_group_members::table)
        .filter(teaching_group_members::pupil_id.eq(pupil_id))
        .order(teaching_groups::name)
        .select((
            teaching_groups::id,
            teaching_groups::source_id,
            teaching_groups::name,
            teaching_groups::subject,
        ))
        .load(conn)?;
    Ok(section(
        RecordType::TeachingGroups,
        rows.into_iter()
            .map(|(id, source, name, subject)| {
                vec![id.to_string(), source, name, subject.unwrap_or_default()]
            })
            .collect(),
    ))
}

fn daily_counts_of(conn: &mut DbConnection, pupil_id: i64) -> Result<Section> {
    let rows: Vec<(NaiveDate, i32)> = pupil_day_incidents::table
        .filter(pupil_day_incidents::pupil_id.eq(pupil_id))
        .order(pupil_day_incidents::day)
        .select((pupil_day_incidents::day, pupil_day_incidents::incidents))
        .load(conn)?;
    Ok(section(
        RecordType::DailyIncidentCounts,
        rows.into_iter()
            .map(|(on, count)| vec![day(on), on.format("%A").to_string(), count.to_string()])
            .collect(),
    ))
}
