//! The demo's records at levels 4 to 6, added once the term's story is loaded: a Coaching Plan
//! for every pupil at those levels, the running programme block with its sessions recorded up
//! to today for pupils on the programme, and a provision map with costs and reviews for pupils
//! at level 6. They are written through the same functions the pages use, at the times they
//! would have happened, so the SENDCO's views show what a real term would leave behind.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc, Weekday};
use diesel::prelude::*;

use crate::db::evaluation::{self, SchoolRules};
use crate::db::plans::{self, Agreement};
use crate::db::programmes::{self, BlockRequest, SessionInput};
use crate::db::provision;
use crate::db::schema::{level_changes, pupils};
use crate::db::staff::{self, StaffMember};
use crate::db::{from_db_time, DbConnection};
use crate::domain::calendar::{SchoolCalendar, SCHOOL_TZ};
use crate::domain::plan::{PlanSubmission, ProvisionReviewSubmission, ProvisionSubmission};
use crate::domain::Level;
use crate::error::{Error, Result};

/// Goals a demo plan chooses from, with their success criteria.
const GOALS: [(&str, &str); 4] = [
    (
        "Stay in lessons, using the help card when things get hard",
        "No walk-outs in a school week, from the behaviour log",
    ),
    (
        "Arrive at lessons on time and ready",
        "On time to at least 4 lessons out of 5 each week, from the register",
    ),
    (
        "Speak calmly to adults when asked to change something",
        "Two weeks with no rudeness logged",
    ),
    (
        "Finish the first task set in each lesson",
        "Teachers tick the first task done in 8 of 10 lessons",
    ),
];

/// Provision a demo map chooses from: what, provider, external, a week, minutes, pence.
const PROVISION: [(&str, &str, bool, u32, u32, u32); 5] = [
    (
        "Small-group social skills",
        "Inclusion team",
        false,
        2,
        45,
        1500,
    ),
    ("Mentoring", "Pastoral team", false, 1, 30, 1200),
    (
        "Educational psychologist assessment and advice",
        "County EP service",
        true,
        1,
        60,
        9500,
    ),
    ("Speech and language therapy", "NHS SALT", true, 1, 45, 6000),
    (
        "Alternative provision, one morning a week",
        "Riverside Centre",
        true,
        1,
        180,
        7500,
    ),
];

/// Start times spread over the specialist's day, so their sessions do not clash.
const SESSION_TIMES: [Option<NaiveTime>; 6] = [
    NaiveTime::from_hms_opt(9, 0, 0),
    NaiveTime::from_hms_opt(10, 0, 0),
    NaiveTime::from_hms_opt(11, 15, 0),
    NaiveTime::from_hms_opt(12, 15, 0),
    NaiveTime::from_hms_opt(13, 45, 0),
    NaiveTime::from_hms_opt(14, 45, 0),
];

/// What was added, for the demo's summary.
#[derive(Debug, Default)]
pub struct SupportCounts {
    pub plans: usize,
    pub blocks: usize,
    pub sessions_recorded: usize,
    pub provisions: usize,
}

/// Staff of the demo school who write these records.
fn member(conn: &mut DbConnection, school_id: i64, email: &str) -> Result<StaffMember> {
    let row = staff::find_for_login(conn, email)?
        .ok_or_else(|| Error::Internal(format!("demo staff {email} missing")))?;
    staff::get_member(conn, school_id, row.id)?
        .ok_or_else(|| Error::Internal(format!("demo staff {email} inactive")))
}

/// 09:00 London time on `day`.
fn morning(day: NaiveDate) -> DateTime<Utc> {
    let nine = NaiveTime::from_hms_opt(9, 0, 0).unwrap_or(NaiveTime::MIN);
    SCHOOL_TZ
        .from_local_datetime(&day.and_time(nine))
        .earliest()
        .map_or_else(|| day.and_time(nine).and_utc(), |t| t.with_timezone(&Utc))
}

/// Adds plans, programme blocks and provision maps for every pupil at levels 4 to 6, written
/// by the school's SENDCO and specialist practitioner (`sendco@` and `specialist@` the domain).
pub fn add_support(
    conn: &mut DbConnection,
    school_id: i64,
    email_domain: &str,
    now: DateTime<Utc>,
) -> Result<SupportCounts> {
    let sendco = member(conn, school_id, &format!("sendco@{email_domain}"))?;
    let specialist = member(conn, school_id, &format!("specialist@{email_domain}"))?;
    let rules = evaluation::load_rules(conn, school_id)?;
    let today = SchoolCalendar::local_date(now);
    let supported: Vec<(i64, i16, chrono::NaiveDateTime)> = pupils::table
        .filter(pupils::school_id.eq(school_id))
        .filter(pupils::level.ge(Level::Plan.number()))
        .order(pupils::id)
        .select((pupils::id, pupils::level, pupils::level_since))
        .load(conn)?;
    let reached = last_reached(conn, school_id)?;
    let mut counts = SupportCounts::default();
    for (n, (pupil_id, level, since)) in supported.into_iter().enumerate() {
        let since = SchoolCalendar::local_date(from_db_time(since)).min(today);
        // The plan was agreed just after the pupil last reached level 4 (a plan is written at
        // levels 4 to 6 only), some weeks before a programme.
        let plan_at = reached
            .get(&(pupil_id, Level::Plan.number()))
            .map_or(morning(since), |at| *at + TimeDelta::minutes(30))
            .min(now);
        let agreed_on = SchoolCalendar::local_date(plan_at);
        let goals = [GOALS[n % GOALS.len()], GOALS[(n + 1) % GOALS.len()]];
        let steps = [
            (
                "Check in with the form tutor each morning",
                "Pupil and form tutor",
                Some(agreed_on + TimeDelta::days(7)),
            ),
            (
                "Share a weekly note home on how the week went",
                "Head of Year",
                Some(agreed_on + TimeDelta::days(14)),
            ),
        ];
        let plan = PlanSubmission {
            goals: &goals,
            pathway_to_independence:
                "Daily check-ins for three weeks, then every other day, then the pupil asks for one when needed.",
            action_steps: &steps,
            review_on: Some(agreed_on + TimeDelta::days(42)),
        };
        plans::agree(
            conn,
            &sendco,
            &Agreement {
                pupil_id,
                plan: &plan,
                agreed_with: Some("The pupil and their parent or carer"),
                meeting_id: None,
            },
            plan_at,
        )?;
        counts.plans += 1;
        if level == Level::Programme.number() {
            // The current block began with the last move into the programme or on to the block.
            let block_at = reached
                .get(&(pupil_id, Level::Programme.number()))
                .map_or(morning(since), |at| *at + TimeDelta::minutes(30))
                .min(now);
            let recorded = run_block(
                conn,
                &sendco,
                &specialist,
                pupil_id,
                block_at,
                &rules,
                now,
                n,
            )?;
            counts.blocks += 1;
            counts.sessions_recorded += recorded;
        }
        if level == Level::Provision.number() {
            counts.provisions += map_provision(conn, &sendco, pupil_id, since, today, n)?;
        }
    }
    Ok(counts)
}

/// When each pupil of the school last moved to Coaching Plan and to Coaching Programme (a new
/// programme block included), by pupil and level number.
fn last_reached(
    conn: &mut DbConnection,
    school_id: i64,
) -> Result<HashMap<(i64, i16), DateTime<Utc>>> {
    let rows: Vec<(i64, i16, chrono::NaiveDateTime)> = level_changes::table
        .filter(level_changes::school_id.eq(school_id))
        .filter(level_changes::to_level.eq_any([Level::Plan.number(), Level::Programme.number()]))
        .order(level_changes::id)
        .select((
            level_changes::pupil_id,
            level_changes::to_level,
            level_changes::occurred_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(pupil, level, at)| ((pupil, level), from_db_time(at)))
        .collect())
}

/// Plans the pupil's current block at `planned_at` (just after the block began), from the next
/// school day, three sessions a week with the specialist, and records every session up to
/// yesterday, mostly delivered. Returns how many sessions were recorded.
#[allow(clippy::too_many_arguments)]
fn run_block(
    conn: &mut DbConnection,
    sendco: &StaffMember,
    specialist: &StaffMember,
    pupil_id: i64,
    planned_at: DateTime<Utc>,
    rules: &SchoolRules,
    now: DateTime<Utc>,
    n: usize,
) -> Result<usize> {
    let starts_on = rules
        .calendar
        .add_school_days(SchoolCalendar::local_date(planned_at), 1);
    let weekdays = [Weekday::Mon, Weekday::Wed, Weekday::Fri];
    let block = programmes::plan_block(
        conn,
        sendco,
        &BlockRequest {
            pupil_id,
            starts_on: Some(starts_on),
            sessions_per_week: 3,
            weekdays: &weekdays,
            minutes: 30,
            time: SESSION_TIMES[n % SESSION_TIMES.len()],
            place: "in_school",
            led_by: "specialist_staff",
            practitioner_id: Some(specialist.id),
            practitioner_name: None,
        },
        rules,
        planned_at,
    )?;
    let today = SchoolCalendar::local_date(now);
    let mut recorded = 0;
    for (i, session) in block.sessions.iter().enumerate() {
        if session.on_date >= today {
            break;
        }
        // Mostly delivered; now and then the pupil is away or the session cannot run, and
        // for one pupil in four the programme is struggling to happen at all.
        let missed_in_ten = if n % 4 == 3 { 5 } else { 2 };
        let outcome = match (i * 7 + n * 3) % 10 {
            k if k >= missed_in_ten => "delivered",
            k if k % 2 == 0 => "pupil_absent",
            _ => "not_delivered",
        };
        let input = SessionInput {
            outcome,
            minutes: (outcome == "delivered").then_some(30),
            reason: (outcome == "not_delivered").then_some("Practitioner covering a lesson"),
            note: (outcome == "delivered").then_some("Practised the help card; used it once."),
            delivered_by: None,
            parent_attended: session.is_final.then_some(n % 3 != 0),
        };
        let at = morning(session.on_date) + TimeDelta::hours(6);
        programmes::record_session(conn, specialist, session.id, &input, at)?;
        recorded += 1;
    }
    Ok(recorded)
}

/// Puts one to three provisions on the pupil's map from a week after they reached level 6,
/// each reviewed every four weeks up to today.
fn map_provision(
    conn: &mut DbConnection,
    sendco: &StaffMember,
    pupil_id: i64,
    since: NaiveDate,
    today: NaiveDate,
    n: usize,
) -> Result<usize> {
    let starts_on = since + TimeDelta::days(7);
    let how_many = 1 + n % 3;
    for k in 0..how_many {
        let (what, provider, external, per_week, minutes, pence) =
            PROVISION[(n + k * 2) % PROVISION.len()];
        let first_review = starts_on + TimeDelta::days(28);
        // Provision runs a term at least, and is still running today.
        let ends_on = (starts_on + TimeDelta::days(84)).max(today + TimeDelta::days(56));
        let item = provision::add_item(
            conn,
            sendco,
            pupil_id,
            &ProvisionSubmission {
                what,
                external,
                provider_name: provider,
                frequency_per_week: per_week,
                session_minutes: minutes,
                starts_on: Some(starts_on),
                review_on: Some(first_review),
                ends_on: Some(ends_on),
                cost_per_session_pence: pence,
                entry_data: "Boxall profile: 41 of 68; 3 removals from lessons a week",
                target: "Boxall profile above 50; no more than 1 removal a week",
            },
            morning(starts_on),
        )?;
        // Every four weeks since, a review: slow progress at first, then some.
        let mut review_on = first_review;
        let mut turn = 0;
        while review_on < today {
            let next = review_on + TimeDelta::days(28);
            let (progress, assessment) = match (turn + k) % 3 {
                0 => ("not_met", "Boxall profile 43 of 68; 2 or 3 removals a week"),
                1 => (
                    "partly_met",
                    "Boxall profile 47 of 68; 1 or 2 removals a week",
                ),
                _ => (
                    "partly_met",
                    "Boxall profile 49 of 68; about 1 removal a week",
                ),
            };
            provision::review_item(
                conn,
                sendco,
                item.id,
                &ProvisionReviewSubmission {
                    assessment,
                    progress,
                    next_plan: Some("Add a check-out with the mentor at the end of each day."),
                    decision: "adjust",
                    next_review_on: Some(next),
                },
                morning(review_on),
            )?;
            review_on = next;
            turn += 1;
        }
    }
    Ok(how_many)
}
