//! The demo-school generator: a pure, seeded function that builds a believable secondary school and
//! simulates an autumn term of incidents under the real escalation rules.
//!
//! Nothing here reads the clock or does IO: the same seed and `today` always give the same school.
//! The term runs from about twelve school weeks before `today` up to the day before `today`; every
//! recorded time is before `today`, except the start times of meetings scheduled in the coming days.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::domain::calendar::{Closure, ClosureKind, SchoolCalendar, SchoolDayCount, SCHOOL_TZ};
use crate::domain::policy::EscalationPolicy;
use crate::domain::rules::{
    evaluate, DecidedSuggestion, IncidentFact, MeetingFact, PupilHistory, Response, RuleId,
    Severity, Suggestion,
};
use crate::domain::transition::{apply, events_for_target, Event, PupilState};
use crate::domain::{Level, ProgrammeBlock, Role};

/// Where a meeting stands: the domain's status, as stored.
pub use crate::domain::MeetingStatus;

use super::catalogue::{
    BehaviourKind, ACCEPT_NOTES, AROUND_SITE, BEHAVIOURS, DECLINE_REASONS, INCIDENT_NOTES,
    MEETING_ROOMS, PLAN_SUMMARIES, PROGRAMME_SUMMARIES, PROVISION_SUMMARIES, SERIOUS_NOTES,
    SUBJECTS, TIME_SUMMARIES,
};
use super::names::{NameGroup, ADULT_FAMILY, ADULT_GIVEN, GROUPS};
use super::shape::{shape_of, SupportShape};

/// The demo school's code.
pub const DEMO_CODE: &str = "DEMO";
/// The demo school's name.
pub const DEMO_NAME: &str = "Steadfast Demo Academy";
/// The password of every demo login.
pub const DEMO_PASSWORD: &str = "steadfast-demo";
/// The email domain of the demo school's staff.
pub const DEMO_DOMAIN: &str = "demo.example";

/// The demo school's houses.
const HOUSES: [&str; 4] = ["Brunel", "Curie", "Seacole", "Turing"];
/// Pupils in each year group.
const PUPILS_PER_YEAR: usize = 200;
/// Forms (tutor groups) in each year group.
const FORMS_PER_YEAR: usize = 8;
/// The year groups of the school.
const YEARS: [i16; 5] = [7, 8, 9, 10, 11];
/// Class staff with generated names, besides the fixed demo logins, per 1,000 pupils.
const GENERATED_STAFF: usize = 52;
/// School days in the demo's term, which the per-term figures of the simulation are for.
const TERM_DAYS: f64 = 60.0;
/// How many times the demo term's rate of incidents a school with years of history logs.
const HISTORY_INTENSITY: f64 = 25.0;
/// How far back the simulation keeps a pupil's incidents for the rules, in calendar days:
/// more than the longest window of the policy, holidays included.
const HISTORY_KEPT_DAYS: i64 = 70;
/// Over years of history, the least that support brings a pupil's incidents down to (a share
/// of their usual rate): the pupils who need the most support still have hard days.
const HISTORY_CALM_FLOOR: f64 = 0.35;

// Positions of the fixed logins in `DemoSchool::staff`.
const SLT: usize = 1;
const SENDCO: usize = 2;
const HOY_FIRST: usize = 3;
const HOD: usize = 8;
const SPECIALIST: usize = 9;
const TEACHER: usize = 10;
const FIRST_GENERATED: usize = 11;

/// The fixed demo logins: email, name, role, year groups led.
const FIXED_LOGINS: [(&str, &str, Role, Option<i16>); 11] = [
    ("admin@demo.example", "Janet Fowler", Role::Admin, None),
    ("slt@demo.example", "Andrew Pearce", Role::Slt, None),
    ("sendco@demo.example", "Helen Marsh", Role::Sendco, None),
    (
        "hoy7@demo.example",
        "Priya Shah",
        Role::PastoralLead,
        Some(7),
    ),
    (
        "hoy8@demo.example",
        "Gareth Lewis",
        Role::PastoralLead,
        Some(8),
    ),
    (
        "hoy9@demo.example",
        "Funmi Adeyemi",
        Role::PastoralLead,
        Some(9),
    ),
    (
        "hoy10@demo.example",
        "Tom Bradley",
        Role::PastoralLead,
        Some(10),
    ),
    (
        "hoy11@demo.example",
        "Claire Donnelly",
        Role::PastoralLead,
        Some(11),
    ),
    ("hod@demo.example", "Imran Qureshi", Role::Hod, None),
    (
        "specialist@demo.example",
        "Rachel Greenwood",
        Role::Specialist,
        None,
    ),
    ("teacher@demo.example", "Sam Taylor", Role::ClassStaff, None),
];

/// The whole demo school, ready for the storage layer to insert as is.
///
/// Index fields (`tutor`, `pupils`, `reporter`, `pupil`, `evidence`, `by`, `decided_by`,
/// `participants`, `suggestion`) are positions in the matching `Vec` of this struct.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoSchool {
    /// The school's code, "DEMO".
    pub code: String,
    /// The school's name.
    pub name: String,
    /// The school calendar's closures: last summer's holiday, an INSET day and the half-term.
    pub closures: Vec<Closure>,
    /// The house names.
    pub houses: Vec<String>,
    /// Tutor groups.
    pub forms: Vec<DemoForm>,
    /// Staff, the fixed demo logins first.
    pub staff: Vec<DemoStaff>,
    /// The password of every staff login.
    pub password: &'static str,
    /// Pupils, by year and form.
    pub pupils: Vec<DemoPupil>,
    /// Incidents, in the order they happened.
    pub incidents: Vec<DemoIncident>,
    /// Suggestions made by the rules, in the order they were made.
    pub suggestions: Vec<DemoSuggestion>,
    /// Level changes (including programme block changes), in the order they happened.
    pub level_changes: Vec<DemoLevelChange>,
    /// Meetings, in the order they were created.
    pub meetings: Vec<DemoMeeting>,
}

impl DemoSchool {
    /// The domain of the school's staff emails, such as "demo.example".
    pub fn email_domain(&self) -> &str {
        self.staff
            .first()
            .and_then(|s| s.email.split_once('@'))
            .map_or(DEMO_DOMAIN, |(_, domain)| domain)
    }

    /// How the school's pupils spread over the tiers of support and its incidents over its
    /// pupils.
    pub fn support_shape(&self) -> SupportShape {
        let levels: Vec<Level> = self.pupils.iter().map(|p| p.level).collect();
        let mut incidents = vec![0; self.pupils.len()];
        for incident in &self.incidents {
            for &p in &incident.pupils {
                if let Some(n) = incidents.get_mut(p) {
                    *n += 1;
                }
            }
        }
        shape_of(&levels, &incidents)
    }
}

/// A tutor group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoForm {
    /// Year group, 7 to 11.
    pub year: i16,
    /// Form name such as "7A".
    pub name: String,
    /// The form tutor (staff index).
    pub tutor: Option<usize>,
}

/// A member of staff with a login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoStaff {
    /// Login email, unique.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Role names such as "pastoral_lead".
    pub roles: Vec<String>,
    /// Year groups a pastoral lead is responsible for.
    pub year_groups: Vec<i16>,
    /// The subject a member of class staff teaches, if any.
    pub subject: Option<String>,
}

/// A pupil and where the term left them on the ladder.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoPupil {
    /// Unique Pupil Number (check letter, 12 digits).
    pub upn: String,
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Year group, 7 to 11.
    pub year: i16,
    /// Form name.
    pub form: String,
    /// House name.
    pub house: String,
    /// "none", "sen_support" or "ehcp".
    pub sen_status: &'static str,
    /// Current support level (that of the pupil's last level change, or none).
    pub level: Level,
    /// When the current level began (the last level change, or the start of term).
    pub level_since: DateTime<Utc>,
    /// The programme block, while on a Coaching Programme.
    pub programme_block: Option<ProgrammeBlock>,
    /// Whether the pupil's current run of support has been through a Coaching Plan
    /// (`PupilState::had_plan`).
    pub had_plan: bool,
    /// Whether the programme's final block was reviewed without its goals met
    /// (`PupilState::programme_completed_without_impact`).
    pub programme_without_impact: bool,
}

/// An incident involving one or more pupils.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoIncident {
    /// The pupils involved (pupil indexes).
    pub pupils: Vec<usize>,
    /// The adult who logged it (staff index).
    pub reporter: usize,
    /// When it happened (a school day, 08:40-15:20 school time).
    pub occurred_at: DateTime<Utc>,
    /// What happened.
    pub behaviour: String,
    /// Minor or serious.
    pub severity: Severity,
    /// The response given.
    pub response: Response,
    /// Where it happened.
    pub location: Option<String>,
    /// The lesson, if in one.
    pub lesson: Option<String>,
    /// A short note.
    pub note: Option<String>,
}

/// Where a suggestion stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SuggestionStatus {
    /// Waiting for a pastoral lead's decision.
    Open,
    /// Accepted: a level change followed.
    Accepted,
    /// Declined, with a reason.
    Declined,
}

impl SuggestionStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            SuggestionStatus::Open => "open",
            SuggestionStatus::Accepted => "accepted",
            SuggestionStatus::Declined => "declined",
        }
    }
}

/// A move suggested by the rules, and what was decided.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoSuggestion {
    /// The pupil (pupil index).
    pub pupil: usize,
    /// The level when suggested.
    pub from: Level,
    /// The suggested level (below `from` for a step down; equal for the next programme block).
    pub to: Level,
    /// The rule that fired.
    pub rule: RuleId,
    /// Why, in words.
    pub reason: String,
    /// The incidents behind it (incident indexes, all of this pupil).
    pub evidence: Vec<usize>,
    /// Open, accepted or declined.
    pub status: SuggestionStatus,
    /// When the rules made it.
    pub created_at: DateTime<Utc>,
    /// Who decided (staff index).
    pub decided_by: Option<usize>,
    /// When it was decided.
    pub decided_at: Option<DateTime<Utc>>,
    /// The note or reason given with the decision.
    pub decision_note: Option<String>,
}

/// A change of a pupil's level (or of programme block within level 5).
#[derive(Debug, Clone, PartialEq)]
pub struct DemoLevelChange {
    /// The pupil (pupil index).
    pub pupil: usize,
    /// Level before.
    pub from: Level,
    /// Level after.
    pub to: Level,
    /// When.
    pub at: DateTime<Utc>,
    /// Who made the change (staff index).
    pub by: Option<usize>,
    /// Why.
    pub reason: String,
    /// The accepted suggestion behind it, if any (suggestion index).
    pub suggestion: Option<usize>,
    /// The programme block after the change (level 5 only).
    pub programme_block: Option<ProgrammeBlock>,
}

/// A meeting for levels 3, 4 and 6, or a programme block review (level 5).
#[derive(Debug, Clone, PartialEq)]
pub struct DemoMeeting {
    /// The pupil (pupil index).
    pub pupil: usize,
    /// The level the meeting belongs to.
    pub level: Level,
    /// When the meeting came into being (the level change that called for it).
    pub created_at: DateTime<Utc>,
    /// The date it is due by.
    pub due_on: NaiveDate,
    /// How that date was counted in school days (none for meetings of last year).
    pub due_count: Option<SchoolDayCount>,
    /// Its status.
    pub status: MeetingStatus,
    /// When it is (or was) booked for.
    pub starts_at: Option<DateTime<Utc>>,
    /// Booked length in minutes.
    pub duration_minutes: Option<i32>,
    /// Booked room.
    pub location: Option<String>,
    /// Staff taking part (staff indexes).
    pub participants: Vec<usize>,
    /// Whether the parent or carer is invited.
    pub parent_invited: bool,
    /// When it was held.
    pub held_at: Option<DateTime<Utc>>,
    /// What was agreed.
    pub summary: Option<String>,
    /// Whether the goals under review were met, where the meeting reviews goals.
    pub goals_met: Option<bool>,
}

/// What school to simulate: its identity, its size and how much history it has.
#[derive(Debug, Clone, PartialEq)]
pub struct SchoolShape {
    /// The school's code, such as "DEMO" or "DEMO02".
    pub code: String,
    /// The school's name.
    pub name: String,
    /// The domain of every staff email, such as "demo.example".
    pub email_domain: String,
    /// Pupils on roll, spread evenly over years 7 to 11 and eight forms a year.
    pub pupils: usize,
    /// Years of history before `today`; 0 is the demo's single autumn term.
    pub years: u32,
}

impl SchoolShape {
    /// The demo school: `DEMO`, 1,000 pupils, one term.
    pub fn demo() -> Self {
        SchoolShape {
            code: DEMO_CODE.to_string(),
            name: DEMO_NAME.to_string(),
            email_domain: DEMO_DOMAIN.to_string(),
            pupils: PUPILS_PER_YEAR * YEARS.len(),
            years: 0,
        }
    }
}

/// Builds the demo school for a term ending on the day before `today`, deterministically from `seed`.
pub fn generate(seed: u64, today: NaiveDate) -> DemoSchool {
    generate_school(&SchoolShape::demo(), seed, today)
}

/// Builds a school of the given shape whose history ends on the day before `today`,
/// deterministically from `seed`. With `years` above 0 the history covers that many years
/// of 52 weeks, with each year's holidays, and incidents are logged at the rate of a school
/// that records every Coaching Prompt (about 0.4 a pupil a school day).
pub fn generate_school(shape: &SchoolShape, seed: u64, today: NaiveDate) -> DemoSchool {
    Builder::new(shape, seed, today).run()
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

/// The instant of a school-time wall-clock minute (minutes after midnight) on a date.
fn school_time(date: NaiveDate, minute: u32) -> DateTime<Utc> {
    let time =
        NaiveTime::from_hms_opt((minute / 60) % 24, minute % 60, 0).unwrap_or(NaiveTime::MIN);
    let naive = date.and_time(time);
    match SCHOOL_TZ.from_local_datetime(&naive).earliest() {
        Some(local) => local.with_timezone(&Utc),
        None => Utc.from_utc_datetime(&naive),
    }
}

/// Minutes after midnight, school time, of an instant.
fn school_minute(at: DateTime<Utc>) -> u32 {
    let local = at.with_timezone(&SCHOOL_TZ);
    local.hour_minute()
}

trait HourMinute {
    fn hour_minute(&self) -> u32;
}

impl<T: chrono::Timelike> HourMinute for T {
    fn hour_minute(&self) -> u32 {
        self.hour() * 60 + self.minute()
    }
}

/// The Monday of the week holding `date`.
fn monday_of(date: NaiveDate) -> NaiveDate {
    date - Duration::days(i64::from(date.weekday().num_days_from_monday()))
}

/// A random element of a non-empty slice.
fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// A random element of a non-empty slice, by weight.
fn pick_weighted<'a, T>(rng: &mut StdRng, items: &'a [T], weight: impl Fn(&T) -> u32) -> &'a T {
    let total: u32 = items.iter().map(&weight).sum();
    if total == 0 {
        return &items[0];
    }
    let mut r = rng.random_range(0..total);
    for item in items {
        let w = weight(item);
        if r < w {
            return item;
        }
        r -= w;
    }
    &items[items.len() - 1]
}

/// The check letter of a UPN from its twelve digits (DfE algorithm: weights 2-13, modulo 23).
fn upn_check_letter(digits: &[u8; 12]) -> char {
    const LETTERS: &[u8; 23] = b"ABCDEFGHJKLMNPQRTUVWXYZ";
    let sum: usize = digits
        .iter()
        .enumerate()
        .map(|(i, d)| usize::from(*d) * (i + 2))
        .sum();
    char::from(LETTERS[sum % 23])
}

/// Lower-case ASCII letters of a name, for email addresses.
fn email_part(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphabetic)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The simulation
// ---------------------------------------------------------------------------------------------

/// How a pupil tends to behave over the term.
struct Temperament {
    /// Expected incidents over the whole term before support has an effect.
    expected: f64,
    /// School-day index ranges `[start, end)` of difficult spells (three times the usual rate).
    spells: Vec<(usize, usize)>,
    /// Multiplier that falls as support meetings are held.
    calm: f64,
}

/// Where one pupil stands in the simulation.
struct PupilSim {
    history: PupilHistory,
    temperament: Temperament,
    /// Indexes of this pupil's open suggestions.
    open: Vec<usize>,
    /// Indexes of this pupil's meetings not yet held, missed or cancelled.
    pending_meetings: Vec<usize>,
    /// A scripted end of term, for the few pupils whose stories the demo always shows.
    story: Option<Story>,
    /// Whether the story's first suggestion has been decided.
    story_decided: bool,
}

/// The scripted ends of term that make sure the demo always shows a suggestion waiting in each
/// direction and an overdue meeting, whatever the seed and the day.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Story {
    /// A quiet pupil in 9C has three Coaching Prompts on the last school day: the first
    /// places them at Coaching Prompt, and after the third a Coaching Conversation is
    /// suggested and waits for the Head of Year.
    EscalationWaiting,
    /// A pupil in 8B moved to Coaching Conversation two weeks ago and has been quiet since:
    /// a step down is suggested on the last school day and waits.
    StepDownWaiting,
    /// A pupil in 10D had a serious incident eight school days ago; the Coaching Time meeting
    /// was due three school days later and has not been held.
    MeetingOverdue,
}

/// A scripted incident: school days before the last school day, minute, behaviour, lesson.
type ScriptedIncident = (usize, u32, &'static str, Option<&'static str>);

impl Story {
    /// The story's pupil: form and position in the form's register.
    fn pupil(self) -> (&'static str, usize) {
        match self {
            Story::EscalationWaiting => ("9C", 3),
            Story::StepDownWaiting => ("8B", 5),
            Story::MeetingOverdue => ("10D", 7),
        }
    }

    /// The story's incidents.
    fn incidents(self) -> &'static [ScriptedIncident] {
        match self {
            Story::EscalationWaiting => &[
                (0, 9 * 60 + 25, "Low-level disruption", Some("Maths")),
                (0, 11 * 60 + 45, "Off task", Some("Science")),
                (0, 14 * 60 + 30, "Talking over the teacher", Some("English")),
            ],
            Story::StepDownWaiting => &[
                (12, 10 * 60 + 5, "Late to lesson", Some("History")),
                (11, 9 * 60 + 30, "Equipment missing", Some("Science")),
                (11, 13 * 60 + 40, "Off task", Some("French")),
            ],
            Story::MeetingOverdue => &[(8, 12 * 60 + 35, "Damage to property", None)],
        }
    }
}

/// What kind of meeting a meeting is, which decides its outcome and follow-up.
#[derive(Clone, Copy, PartialEq, Eq)]
enum MeetingKind {
    /// The meeting on entering level 3, 4 or 6.
    Entry,
    /// A programme block review (level 5).
    BlockReview,
    /// A later review of goals: of a Bespoke Provision Map (level 6), or of a Coaching Plan
    /// after stepping down from a programme (level 4).
    Review,
}

/// What the simulated school plans for a meeting when it becomes due.
struct MeetingPlan {
    kind: MeetingKind,
    /// The school day it is booked for.
    day: NaiveDate,
    /// Minute of that day it starts (school time).
    minute: u32,
    /// Whether it will not take place.
    missed: bool,
    /// Whether it is left unbooked after its due date (a story's overdue meeting).
    stays_due: bool,
}

/// A thing that happens at a moment in the simulation.
enum Action {
    /// The overnight check of pupils on a level (step-downs and other time-based rules).
    DailyCheck,
    /// An incident happens.
    Incident(Draft),
    /// A pastoral lead decides on a suggestion.
    Decide { suggestion: usize, accept: bool },
    /// A meeting's booked time arrives.
    Meet { meeting: usize },
}

/// An incident before its response (which depends on the level at the time) is chosen.
struct Draft {
    pupils: Vec<usize>,
    reporter: usize,
    behaviour: &'static BehaviourKind,
    location: Option<String>,
    lesson: Option<String>,
    /// The response, when scripted; otherwise chosen when the incident happens.
    response: Option<Response>,
}

struct Builder {
    rng: StdRng,
    today: NaiveDate,
    /// The first day of the current term.
    term_start: NaiveDate,
    /// The first day of the simulated history: the term's start, or years before it.
    start: NaiveDate,
    /// Years of history (0: the one term).
    years: u32,
    /// Pupils in each year group.
    pupils_per_year: usize,
    /// Class staff with generated names.
    generated_staff: usize,
    /// The domain of staff emails.
    email_domain: String,
    /// What a pupil's expected incidents per term are multiplied by for the whole history.
    scale: f64,
    /// Terms in the history, for the number of a pupil's difficult spells.
    terms: usize,
    /// The school days a difficult spell may start on (counted from the first).
    spell_starts: usize,
    /// School days in the history (a term's worth for the one term).
    history_days: f64,
    /// The school day being simulated.
    current_day: Option<NaiveDate>,
    calendar: SchoolCalendar,
    policy: EscalationPolicy,
    school: DemoSchool,
    sims: Vec<PupilSim>,
    plans: Vec<MeetingPlan>,
    queue: BTreeMap<(NaiveDate, u32, u64), Action>,
    seq: u64,
    /// Class staff indexes by subject (positions in `SUBJECTS`).
    teachers_by_subject: Vec<Vec<usize>>,
    /// Every member of class staff.
    class_staff: Vec<usize>,
    /// Pupils by form name, and by year.
    form_pupils: BTreeMap<String, Vec<usize>>,
    year_pupils: BTreeMap<i16, Vec<usize>>,
    form_tutor: BTreeMap<String, usize>,
}

impl Builder {
    fn new(shape: &SchoolShape, seed: u64, today: NaiveDate) -> Self {
        let term_start = monday_of(today) - Duration::weeks(13);
        let start = if shape.years == 0 {
            term_start
        } else {
            monday_of(today) - Duration::weeks(52 * i64::from(shape.years))
        };
        let mut closures = Vec::new();
        for k in (1..=shape.years).rev() {
            closures.extend(past_year_closures(
                term_start - Duration::weeks(52 * i64::from(k)),
            ));
        }
        closures.extend(term_closures(term_start));
        let calendar = SchoolCalendar::new(closures.clone()).unwrap_or_default();
        let (scale, terms, spell_starts) = if shape.years == 0 {
            (1.0, 1, 55)
        } else {
            let days =
                calendar.school_days_between(start - Duration::days(1), today - Duration::days(1));
            let days = f64::from(days);
            let terms = (days / TERM_DAYS).round().max(1.0);
            (
                HISTORY_INTENSITY * days / TERM_DAYS,
                terms as usize,
                days as usize - 10,
            )
        };
        let pupils_per_year = shape.pupils.div_ceil(YEARS.len()).max(1);
        Builder {
            rng: StdRng::seed_from_u64(seed),
            today,
            term_start,
            start,
            years: shape.years,
            pupils_per_year,
            generated_staff: (GENERATED_STAFF * shape.pupils)
                .div_ceil(PUPILS_PER_YEAR * YEARS.len())
                .max(8),
            email_domain: shape.email_domain.clone(),
            scale,
            terms,
            spell_starts,
            history_days: if shape.years == 0 {
                TERM_DAYS
            } else {
                f64::from(
                    calendar
                        .school_days_between(start - Duration::days(1), today - Duration::days(1)),
                )
                .max(1.0)
            },
            current_day: None,
            calendar,
            policy: EscalationPolicy::default(),
            school: DemoSchool {
                code: shape.code.clone(),
                name: shape.name.clone(),
                closures,
                houses: HOUSES.iter().map(|h| h.to_string()).collect(),
                forms: Vec::new(),
                staff: Vec::new(),
                password: DEMO_PASSWORD,
                pupils: Vec::new(),
                incidents: Vec::new(),
                suggestions: Vec::new(),
                level_changes: Vec::new(),
                meetings: Vec::new(),
            },
            sims: Vec::new(),
            plans: Vec::new(),
            queue: BTreeMap::new(),
            seq: 0,
            teachers_by_subject: vec![Vec::new(); SUBJECTS.len()],
            class_staff: Vec::new(),
            form_pupils: BTreeMap::new(),
            year_pupils: BTreeMap::new(),
            form_tutor: BTreeMap::new(),
        }
    }

    fn run(mut self) -> DemoSchool {
        self.make_staff();
        self.make_forms();
        self.make_pupils();
        self.make_stories();
        self.make_prior_history();
        self.simulate_term();
        self.finish();
        self.school
    }

    // --- staff, forms and pupils ----------------------------------------------------------

    fn make_staff(&mut self) {
        let hoy_subjects = ["PE", "Geography", "English", "Science", "History"];
        for (email, name, role, year) in FIXED_LOGINS {
            let subject = match role {
                Role::ClassStaff => Some("Science"),
                Role::Hod => Some("Maths"),
                Role::PastoralLead => year.map(|y| hoy_subjects[(y - 7) as usize % 5]),
                _ => None,
            };
            let email = match email.strip_suffix(DEMO_DOMAIN) {
                Some(user) => format!("{user}{}", self.email_domain),
                None => email.to_string(),
            };
            self.school.staff.push(DemoStaff {
                email,
                name: name.to_string(),
                roles: vec![role.as_str().to_string()],
                year_groups: year.into_iter().collect(),
                subject: subject.map(str::to_string),
            });
        }
        // Subjects for generated staff, spread by timetable share (tutor time is not a subject).
        let teaching: Vec<usize> = (0..SUBJECTS.len())
            .filter(|&i| SUBJECTS[i].name != "Tutor time")
            .collect();
        let total: u32 = teaching.iter().map(|&i| SUBJECTS[i].weight).sum();
        let mut used_emails: HashSet<String> =
            self.school.staff.iter().map(|s| s.email.clone()).collect();
        let mut used_names: HashSet<String> =
            self.school.staff.iter().map(|s| s.name.clone()).collect();
        let generated = self.generated_staff;
        for n in 0..generated {
            let point = ((2 * n + 1) as u64 * u64::from(total) / (2 * generated as u64)) as u32;
            let mut acc = 0;
            let mut subject = teaching[0];
            for &i in &teaching {
                acc += SUBJECTS[i].weight;
                if point < acc {
                    subject = i;
                    break;
                }
            }
            let mut attempt = 0;
            let (name, email) = loop {
                let given = *pick(&mut self.rng, ADULT_GIVEN);
                let family = *pick(&mut self.rng, ADULT_FAMILY);
                let name = format!("{given} {family}");
                let initial: String = email_part(given).chars().take(1).collect();
                let domain = &self.email_domain;
                let mut email = format!("{initial}.{}@{domain}", email_part(family));
                attempt += 1;
                if attempt > 50 {
                    email = format!("{initial}.{}{attempt}@{domain}", email_part(family));
                }
                if !used_emails.contains(&email) && !used_names.contains(&name) {
                    break (name, email);
                }
            };
            used_emails.insert(email.clone());
            used_names.insert(name.clone());
            self.school.staff.push(DemoStaff {
                email,
                name,
                roles: vec![Role::ClassStaff.as_str().to_string()],
                year_groups: Vec::new(),
                subject: Some(SUBJECTS[subject].name.to_string()),
            });
        }
        for (i, staff) in self.school.staff.iter().enumerate() {
            if let Some(subject) = &staff.subject {
                if let Some(s) = SUBJECTS.iter().position(|x| x.name == subject) {
                    self.teachers_by_subject[s].push(i);
                    // The demo teacher logs more than most, so their views are full.
                    if i == TEACHER {
                        self.teachers_by_subject[s].extend([i, i, i]);
                    }
                }
            }
            if staff.roles.iter().any(|r| r == Role::ClassStaff.as_str()) {
                self.class_staff.push(i);
            }
        }
    }

    fn make_forms(&mut self) {
        let letters = ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H'];
        let mut tutors: Vec<usize> = (FIRST_GENERATED..self.school.staff.len()).collect();
        // A stable shuffle so tutors are not grouped by subject.
        for i in (1..tutors.len()).rev() {
            let j = self.rng.random_range(0..=i);
            tutors.swap(i, j);
        }
        let mut next = 0;
        for year in YEARS {
            for letter in letters.iter().take(FORMS_PER_YEAR) {
                let name = format!("{year}{letter}");
                // The demo teacher tutors 9C so the teacher's own form has a story.
                let tutor = if name == "9C" {
                    TEACHER
                } else {
                    let t = tutors[next % tutors.len()];
                    next += 1;
                    t
                };
                self.form_tutor.insert(name.clone(), tutor);
                self.school.forms.push(DemoForm {
                    year,
                    name,
                    tutor: Some(tutor),
                });
            }
        }
    }

    fn pupil_name(&mut self) -> (String, String) {
        let group: &NameGroup = pick_weighted(&mut self.rng, GROUPS, |g| g.weight);
        let girl = self.rng.random_bool(0.5);
        let given_group = if self.rng.random_bool(0.1) {
            &GROUPS[0]
        } else {
            group
        };
        let family_group = if self.rng.random_bool(0.06) {
            &GROUPS[0]
        } else {
            group
        };
        let given = if girl {
            *pick(&mut self.rng, given_group.girls)
        } else {
            *pick(&mut self.rng, given_group.boys)
        };
        let family = *pick(&mut self.rng, family_group.families);
        // A few double-barrelled family names.
        let family = if self.rng.random_bool(0.015) {
            let other = *pick(&mut self.rng, GROUPS[0].families);
            if other == family {
                family.to_string()
            } else {
                format!("{family}-{other}")
            }
        } else {
            family.to_string()
        };
        (given.to_string(), family)
    }

    fn upn(&mut self, year: i16, used: &mut HashSet<String>) -> String {
        // Local authorities around the school: mostly its own, some neighbours.
        const LAS: [u16; 5] = [938, 936, 845, 850, 846];
        loop {
            let la = if self.rng.random_bool(0.75) {
                LAS[0]
            } else {
                *pick(&mut self.rng, &LAS[1..])
            };
            let establishment: u16 = self.rng.random_range(2000..3999);
            // Allocated on starting Reception, a few later on arrival in England.
            let mut allocated = self.term_start.year() - i32::from(year);
            if self.rng.random_bool(0.08) {
                allocated += self.rng.random_range(1..6);
            }
            let allocated = allocated.rem_euclid(100) as u16;
            let serial: u16 = self.rng.random_range(0..1000);
            let body = format!("{la:03}{establishment:04}{allocated:02}{serial:03}");
            let mut digits = [0u8; 12];
            for (d, c) in digits.iter_mut().zip(body.bytes()) {
                *d = c - b'0';
            }
            let upn = format!("{}{body}", upn_check_letter(&digits));
            if used.insert(upn.clone()) {
                return upn;
            }
        }
    }

    fn make_pupils(&mut self) {
        let mut used_upns = HashSet::new();
        let year_mood = |y: i16| match y {
            7 => 0.85,
            8 => 1.15,
            9 => 1.25,
            10 => 1.0,
            _ => 0.75,
        };
        for year in YEARS {
            for f in 0..FORMS_PER_YEAR {
                let form = format!("{year}{}", char::from(b'A' + f as u8));
                let mut members = Vec::new();
                let per_year = self.pupils_per_year;
                let in_form = per_year * (f + 1) / FORMS_PER_YEAR - per_year * f / FORMS_PER_YEAR;
                for _ in 0..in_form {
                    let (given, family) = self.pupil_name();
                    let upn = self.upn(year, &mut used_upns);
                    let r: f64 = self.rng.random();
                    let sen_status = if r < 0.04 {
                        "ehcp"
                    } else if r < 0.17 {
                        "sen_support"
                    } else {
                        "none"
                    };
                    let house = (*pick(&mut self.rng, &HOUSES)).to_string();
                    members.push(DemoPupil {
                        upn,
                        given_name: given,
                        family_name: family,
                        year,
                        form: form.clone(),
                        house,
                        sen_status,
                        level: Level::None,
                        level_since: school_time(self.start, 8 * 60),
                        programme_block: None,
                        had_plan: false,
                        programme_without_impact: false,
                    });
                }
                members.sort_by(|a, b| {
                    (&a.family_name, &a.given_name).cmp(&(&b.family_name, &b.given_name))
                });
                for pupil in members {
                    let index = self.school.pupils.len();
                    let sen_factor = match pupil.sen_status {
                        "ehcp" => 1.8,
                        "sen_support" => 1.4,
                        _ => 1.0,
                    };
                    let expected = self.draw_expected() * year_mood(year) * sen_factor * self.scale;
                    let temperament = self.temperament(expected);
                    self.sims.push(PupilSim {
                        history: PupilHistory {
                            state: PupilState::initial(),
                            level_since: pupil.level_since,
                            incidents: Vec::new(),
                            meetings: Vec::new(),
                            open_targets: Vec::new(),
                            decided: Vec::new(),
                        },
                        temperament,
                        open: Vec::new(),
                        pending_meetings: Vec::new(),
                        story: None,
                        story_decided: false,
                    });
                    self.form_pupils
                        .entry(form.clone())
                        .or_default()
                        .push(index);
                    self.year_pupils.entry(year).or_default().push(index);
                    self.school.pupils.push(pupil);
                }
            }
        }
    }

    /// Picks the story pupils: quiet all term until their scripted incidents.
    fn make_stories(&mut self) {
        for story in [
            Story::EscalationWaiting,
            Story::StepDownWaiting,
            Story::MeetingOverdue,
        ] {
            let (form, position) = story.pupil();
            let Some(&p) = self.form_pupils.get(form).and_then(|f| f.get(position)) else {
                continue;
            };
            let sim = &mut self.sims[p];
            sim.story = Some(story);
            sim.temperament = Temperament {
                expected: 0.0,
                spells: Vec::new(),
                calm: 1.0,
            };
        }
    }

    /// The scripted incidents of story pupils that fall `days_left` school days before the
    /// last school day.
    fn scripted_incidents(&mut self, day: NaiveDate, days_left: usize) {
        for p in 0..self.sims.len() {
            let Some(story) = self.sims[p].story else {
                continue;
            };
            for &(before_end, minute, behaviour, lesson) in story.incidents() {
                if before_end != days_left {
                    continue;
                }
                let Some(kind) = BEHAVIOURS.iter().find(|b| b.name == behaviour) else {
                    continue;
                };
                let subject = lesson.and_then(|l| SUBJECTS.iter().position(|s| s.name == l));
                let reporter = match subject {
                    Some(s) if SUBJECTS[s].name == "Science" => TEACHER,
                    Some(s) => self.teachers_by_subject[s]
                        .first()
                        .copied()
                        .unwrap_or(TEACHER),
                    None => HOY_FIRST + (self.school.pupils[p].year - 7).clamp(0, 4) as usize,
                };
                let location = match subject {
                    Some(s) => format!("Room {}{}", SUBJECTS[s].room_prefix, 1 + p % 3),
                    None => "Canteen".to_string(),
                };
                let response = if kind.serious {
                    Response::Conversation
                } else {
                    Response::Prompt
                };
                let draft = Draft {
                    pupils: vec![p],
                    reporter,
                    behaviour: kind,
                    location: Some(location),
                    lesson: lesson.map(str::to_string),
                    response: Some(response),
                };
                self.push_action(day, minute, Action::Incident(draft));
            }
        }
    }

    /// Expected incidents over the term: most pupils none or a couple, a minority many. Over
    /// years of history, [`history_draw`]: more pupils with few, and a smaller share with many.
    fn draw_expected(&mut self) -> f64 {
        let r: f64 = self.rng.random();
        if self.years > 0 {
            let within: f64 = self.rng.random();
            return history_draw(r, within);
        }
        if r < 0.45 {
            0.0
        } else if r < 0.8 {
            self.rng.random_range(0.4..3.0)
        } else if r < 0.925 {
            self.rng.random_range(3.0..6.0)
        } else if r < 0.98 {
            self.rng.random_range(6.0..12.0)
        } else {
            self.rng.random_range(12.0..24.0)
        }
    }

    /// A temperament expecting `expected` incidents over the whole history, with one or two
    /// difficult spells a term for pupils who struggle.
    fn temperament(&mut self, expected: f64) -> Temperament {
        let mut spells = Vec::new();
        if expected >= 2.5 * self.scale {
            let count = self.rng.random_range(self.terms..=2 * self.terms);
            for _ in 0..count {
                let start = self.rng.random_range(0..self.spell_starts);
                let len = self.rng.random_range(4..10);
                spells.push((start, start + len));
            }
        }
        Temperament {
            expected,
            spells,
            calm: 1.0,
        }
    }

    // --- the term ------------------------------------------------------------------------

    fn push_action(&mut self, day: NaiveDate, minute: u32, action: Action) {
        self.seq += 1;
        self.queue.insert((day, minute, self.seq), action);
    }

    fn school_days(&self) -> Vec<NaiveDate> {
        let mut days = Vec::new();
        let mut d = self.start;
        while d < self.today {
            if self.calendar.is_school_day(d) {
                days.push(d);
            }
            d += Duration::days(1);
        }
        days
    }

    fn simulate_term(&mut self) {
        let days = self.school_days();
        let n = days.len().max(1) as f64;
        for (index, &day) in days.iter().enumerate() {
            let gap = index
                .checked_sub(1)
                .map_or(0, |i| (day - days[i]).num_days());
            self.current_day = Some(day);
            if self.years > 0 && gap >= 12 {
                self.after_holiday(gap >= 30);
            }
            self.push_action(day, 7 * 60, Action::DailyCheck);
            self.draft_incidents(day, index, n);
            self.scripted_incidents(day, days.len() - 1 - index);
            while let Some(entry) = self.queue.first_entry() {
                let (d, minute, _) = *entry.key();
                if d > day {
                    break;
                }
                let action = entry.remove();
                let at = school_time(d, minute);
                match action {
                    Action::DailyCheck => {
                        for p in 0..self.sims.len() {
                            if self.sims[p].history.state.level != Level::None {
                                self.evaluate_pupil(p, at);
                            }
                        }
                    }
                    Action::Incident(draft) => self.incident(draft, at),
                    Action::Decide { suggestion, accept } => self.decide(suggestion, accept, at),
                    Action::Meet { meeting } => self.meet(meeting, at),
                }
            }
        }
    }

    /// Back from a holiday (years of history only): support's calming effect wears off a
    /// little, and after the summer some pupils settle down and others start to struggle.
    fn after_holiday(&mut self, summer: bool) {
        for p in 0..self.sims.len() {
            if self.sims[p].story.is_some() {
                continue;
            }
            let calm = self.sims[p].temperament.calm;
            self.sims[p].temperament.calm = (calm * 1.5).min(1.0);
            if summer && self.rng.random_bool(0.25) {
                let expected = self.draw_expected() * self.scale;
                let mut temperament = self.temperament(expected);
                temperament.calm = self.sims[p].temperament.calm;
                self.sims[p].temperament = temperament;
            }
            self.review_if_waiting(p);
        }
    }

    /// A pupil at levels 4 to 6 with no meeting ahead and no suggestion waiting (a move was
    /// declined, or a review found the goals not yet met) has their support reviewed again
    /// in the first weeks back, so no pupil stays on a level nobody looks at.
    fn review_if_waiting(&mut self, p: usize) {
        let level = self.sims[p].history.state.level;
        if level < Level::Plan
            || !self.sims[p].pending_meetings.is_empty()
            || !self.sims[p].open.is_empty()
        {
            return;
        }
        let day = self.queue_day();
        let at = school_time(day, 8 * 60);
        let weeks = self.rng.random_range(2..=4);
        self.create_meeting(p, level, at, weeks * 5, MeetingKind::Review);
    }

    /// The day being simulated: that of the next action waiting, or today.
    fn queue_day(&self) -> NaiveDate {
        self.current_day.unwrap_or(self.today)
    }

    /// The incidents a school day pupil `p` is having now, support's effect included.
    fn rate_now(&self, p: usize) -> f64 {
        let t = &self.sims[p].temperament;
        t.expected / self.history_days * t.calm
    }

    /// Plans the day's incidents, each at its minute.
    fn draft_incidents(&mut self, day: NaiveDate, index: usize, n: f64) {
        for p in 0..self.sims.len() {
            let t = &self.sims[p].temperament;
            if t.expected <= 0.0 {
                continue;
            }
            let spell_days: usize = t.spells.iter().map(|(a, b)| b - a).sum();
            let in_spell = t.spells.iter().any(|&(a, b)| index >= a && index < b);
            let mean_weight = (n + 2.0 * spell_days as f64) / n;
            let weight = if in_spell { 3.0 } else { 1.0 };
            let rate = t.expected / n * weight / mean_weight * t.calm;
            let mut count = rate.floor() as u32;
            if self.rng.random_bool((rate - rate.floor()).clamp(0.0, 1.0)) {
                count += 1;
            }
            for _ in 0..count {
                let (minute, draft) = self.draft(p);
                self.push_action(day, minute, Action::Incident(draft));
            }
        }
    }

    fn draft(&mut self, p: usize) -> (u32, Draft) {
        let expected = self.sims[p].temperament.expected;
        let behaviour = loop {
            let b = pick_weighted(&mut self.rng, BEHAVIOURS, |b| b.weight);
            // Serious incidents come from pupils who struggle more often.
            if !b.serious || expected >= 4.0 {
                break b;
            }
        };
        let form = self.school.pupils[p].form.clone();
        let year = self.school.pupils[p].year;
        let (minute, location, lesson, reporter) = if behaviour.in_lesson {
            let subject = loop {
                let s = pick_weighted(&mut self.rng, SUBJECTS, |s| s.weight);
                if s.name != "Tutor time" || behaviour.name != "Homework not done" {
                    break s;
                }
            };
            let s_index = SUBJECTS
                .iter()
                .position(|x| x.name == subject.name)
                .unwrap_or(0);
            let (start, length) = if subject.name == "Tutor time" {
                (8 * 60 + 40, 20)
            } else {
                *pick(
                    &mut self.rng,
                    &[
                        (9 * 60, 60),
                        (10 * 60, 60),
                        (11 * 60 + 20, 60),
                        (13 * 60 + 5, 65),
                        (14 * 60 + 10, 65),
                    ],
                )
            };
            let offset = if behaviour.name == "Late to lesson" {
                self.rng.random_range(2..15)
            } else {
                self.rng.random_range(3..length - 2)
            };
            let location = match subject.name {
                "Tutor time" => format!("{form} form room"),
                "PE" => (*pick(
                    &mut self.rng,
                    &["Sports hall", "Gym", "Field", "Changing rooms"],
                ))
                .to_string(),
                _ => format!(
                    "Room {}{}",
                    subject.room_prefix,
                    self.rng.random_range(1..=subject.rooms.max(1))
                ),
            };
            let reporter = if subject.name == "Tutor time" {
                self.form_tutor.get(&form).copied().unwrap_or(TEACHER)
            } else {
                let teachers = &self.teachers_by_subject[s_index];
                if teachers.is_empty() {
                    *pick(&mut self.rng, &self.class_staff)
                } else {
                    teachers[self.rng.random_range(0..teachers.len())]
                }
            };
            (
                start + offset,
                Some(location),
                Some(subject.name.to_string()),
                reporter,
            )
        } else {
            let slot: f64 = self.rng.random();
            let (minute, places): (u32, &[&str]) = if slot < 0.35 {
                (
                    11 * 60 + self.rng.random_range(0..20),
                    &[
                        "Playground",
                        "Corridor",
                        "Field",
                        "Toilets",
                        "Main stairwell",
                    ],
                )
            } else if slot < 0.8 {
                (
                    12 * 60 + 20 + self.rng.random_range(0..45),
                    &["Canteen", "Playground", "Field", "Library", "Corridor"],
                )
            } else if slot < 0.95 {
                let change = *pick(&mut self.rng, &[10 * 60, 13 * 60 + 5, 14 * 60 + 10]);
                (
                    change + self.rng.random_range(0..5),
                    &["Corridor", "Main stairwell"],
                )
            } else {
                (
                    15 * 60 + 10 + self.rng.random_range(0..10),
                    &["Bus bay", "Corridor"],
                )
            };
            let place = if behaviour.name == "Uniform not correct" {
                let minute = 8 * 60 + 40 + self.rng.random_range(0..15);
                return self.finish_draft(
                    p,
                    behaviour,
                    minute,
                    Some(format!("{form} form room")),
                    None,
                    None,
                );
            } else {
                let allowed: Vec<(&str, u32)> = AROUND_SITE
                    .iter()
                    .copied()
                    .filter(|(name, _)| places.contains(name))
                    .collect();
                if allowed.is_empty() {
                    (*pick(&mut self.rng, places)).to_string()
                } else {
                    pick_weighted(&mut self.rng, &allowed, |(_, w)| *w)
                        .0
                        .to_string()
                }
            };
            // On duty: mostly class staff, sometimes the Head of Year.
            let reporter = if self.rng.random_bool(0.15) {
                HOY_FIRST + (year - 7) as usize
            } else {
                *pick(&mut self.rng, &self.class_staff)
            };
            (minute, Some(place), None, reporter)
        };
        self.finish_draft(p, behaviour, minute, location, lesson, Some(reporter))
    }

    fn finish_draft(
        &mut self,
        p: usize,
        behaviour: &'static BehaviourKind,
        minute: u32,
        location: Option<String>,
        lesson: Option<String>,
        reporter: Option<usize>,
    ) -> (u32, Draft) {
        let form = self.school.pupils[p].form.clone();
        let year = self.school.pupils[p].year;
        let reporter =
            reporter.unwrap_or_else(|| self.form_tutor.get(&form).copied().unwrap_or(TEACHER));
        let social = matches!(
            behaviour.name,
            "Physical altercation"
                | "Rough play"
                | "Unkind words"
                | "Talking over the teacher"
                | "Out of bounds"
                | "Bullying"
        );
        let together = if behaviour.name == "Physical altercation" {
            0.7
        } else if social {
            0.3
        } else {
            0.05
        };
        let mut pupils = vec![p];
        if self.rng.random_bool(together) {
            let pool: Vec<usize> = if behaviour.in_lesson {
                self.form_pupils.get(&form).cloned().unwrap_or_default()
            } else {
                self.year_pupils.get(&year).cloned().unwrap_or_default()
            };
            let candidates: Vec<usize> = pool
                .into_iter()
                .filter(|&q| q != p && self.sims[q].temperament.expected > 1.0)
                .collect();
            let extra = if self.rng.random_bool(0.25) { 2 } else { 1 };
            for _ in 0..extra {
                if candidates.is_empty() {
                    break;
                }
                let q = *pick(&mut self.rng, &candidates);
                if !pupils.contains(&q) {
                    pupils.push(q);
                }
            }
        }
        let minute = minute.clamp(8 * 60 + 40, 15 * 60 + 19);
        (
            minute,
            Draft {
                pupils,
                reporter,
                behaviour,
                location,
                lesson,
                response: None,
            },
        )
    }

    /// Records an incident and lets the rules look at each pupil involved.
    fn incident(&mut self, draft: Draft, at: DateTime<Utc>) {
        let serious = draft.behaviour.serious;
        let top_level = draft
            .pupils
            .iter()
            .map(|&p| self.sims[p].history.state.level)
            .max()
            .unwrap_or(Level::None);
        let r: f64 = self.rng.random();
        let response = if let Some(response) = draft.response {
            response
        } else if serious {
            if r < 0.85 {
                Response::Conversation
            } else {
                Response::Prompt
            }
        } else if top_level >= Level::Conversation {
            if r < 0.66 {
                Response::Prompt
            } else if r < 0.93 {
                Response::Conversation
            } else {
                Response::None
            }
        } else if r < 0.84 {
            Response::Prompt
        } else if r < 0.94 {
            Response::Conversation
        } else {
            Response::None
        };
        let note = if serious && self.rng.random_bool(0.85) {
            Some((*pick(&mut self.rng, SERIOUS_NOTES)).to_string())
        } else if self.rng.random_bool(0.28) {
            Some((*pick(&mut self.rng, INCIDENT_NOTES)).to_string())
        } else {
            None
        };
        let severity = if serious {
            Severity::Serious
        } else {
            Severity::Minor
        };
        let index = self.school.incidents.len();
        self.school.incidents.push(DemoIncident {
            pupils: draft.pupils.clone(),
            reporter: draft.reporter,
            occurred_at: at,
            behaviour: draft.behaviour.name.to_string(),
            severity,
            response,
            location: draft.location,
            lesson: draft.lesson,
            note,
        });
        let logged = at + Duration::minutes(1);
        for &p in &draft.pupils {
            if response == Response::Prompt && self.sims[p].history.state.level == Level::None {
                self.start_at_prompt(p, at, draft.reporter);
            }
            self.sims[p].history.incidents.push(IncidentFact {
                id: index as i64,
                occurred_at: at,
                severity,
                response,
            });
            if self.years > 0 {
                // Years of history: the rules look back weeks, not years.
                let kept_from = at - Duration::days(HISTORY_KEPT_DAYS);
                let incidents = &mut self.sims[p].history.incidents;
                if incidents.first().is_some_and(|i| i.occurred_at < kept_from) {
                    incidents.retain(|i| i.occurred_at >= kept_from);
                }
            }
            self.evaluate_pupil(p, logged);
        }
    }

    /// Places a pupil with no level at Coaching Prompt, as logging a prompt does in the
    /// product (`db::incidents`): the prompt is that support, from the moment it was given.
    /// Nothing else changes: no suggestion is withdrawn and no meeting is needed.
    fn start_at_prompt(&mut self, p: usize, at: DateTime<Utc>, by: usize) {
        let state = self.sims[p].history.state.clone();
        let Ok(next) = apply(&state, &Event::Escalate) else {
            return;
        };
        self.school.level_changes.push(DemoLevelChange {
            pupil: p,
            from: state.level,
            to: next.level,
            at,
            by: Some(by),
            reason: "A Coaching Prompt was logged.".to_string(),
            suggestion: None,
            programme_block: None,
        });
        self.sims[p].history.state = next;
        self.sims[p].history.level_since = at;
    }

    /// Runs the rules for a pupil and records (and plans decisions on) what they suggest.
    fn evaluate_pupil(&mut self, p: usize, now: DateTime<Utc>) {
        let suggestions = evaluate(&self.policy, &self.calendar, &self.sims[p].history, now);
        for suggestion in suggestions {
            self.suggest(p, suggestion, now);
        }
    }

    fn suggest(&mut self, p: usize, s: Suggestion, now: DateTime<Utc>) {
        let already_open = self.sims[p]
            .open
            .iter()
            .any(|&i| self.school.suggestions[i].to == s.to);
        if already_open {
            return;
        }
        let index = self.school.suggestions.len();
        let evidence: Vec<usize> = s
            .evidence
            .iter()
            .filter_map(|&id| usize::try_from(id).ok())
            .filter(|&i| {
                self.school
                    .incidents
                    .get(i)
                    .is_some_and(|incident| incident.pupils.contains(&p))
            })
            .collect();
        self.school.suggestions.push(DemoSuggestion {
            pupil: p,
            from: s.from,
            to: s.to,
            rule: s.rule,
            reason: s.reason,
            evidence,
            status: SuggestionStatus::Open,
            created_at: now,
            decided_by: None,
            decided_at: None,
            decision_note: None,
        });
        self.sims[p].open.push(index);
        self.sims[p].history.open_targets.push(s.to);

        if let Some(story) = self.sims[p].story {
            // A story's first move is accepted at once; what follows waits for a decision.
            if story != Story::EscalationWaiting && !self.sims[p].story_decided {
                self.sims[p].story_decided = true;
                let minute = (school_minute(now) + 30).min(17 * 60 + 30);
                let day = SchoolCalendar::local_date(now);
                self.push_action(
                    day,
                    minute,
                    Action::Decide {
                        suggestion: index,
                        accept: true,
                    },
                );
            }
            return;
        }

        // When the Head of Year gets to it: the same day to three school days later.
        let created = SchoolCalendar::local_date(now);
        let delay = *pick_weighted(
            &mut self.rng,
            &[(0u32, 20u32), (1, 35), (2, 25), (3, 20)],
            |x| x.1,
        );
        let (day, minute) = if delay.0 == 0 {
            let minute = (school_minute(now) + self.rng.random_range(15..120)).min(17 * 60 + 30);
            (created, minute)
        } else {
            let minute = if self.rng.random_bool(0.5) {
                8 * 60 + self.rng.random_range(0..35)
            } else {
                15 * 60 + 30 + self.rng.random_range(0..90)
            };
            (self.calendar.add_school_days(created, delay.0), minute)
        };
        // Step-downs are nearly always welcome; a Coaching Plan is the biggest call.
        let chance = if s.to < s.from {
            if self.years > 0 && matches!(s.from, Level::Time | Level::Plan) {
                // Over years, a Head of Year often keeps Coaching Time or a Coaching Plan
                // going a while after the first quiet fortnight.
                0.5
            } else {
                0.93
            }
        } else if self.years > 0 && s.to > s.from && s.to >= Level::Plan {
            // Over years, the bigger moves are made for the pupils still struggling: a
            // Coaching Plan or a programme that is working is kept and reviewed instead.
            (1.0 - history_goals_chance(self.rate_now(p))).clamp(0.1, 0.95)
        } else {
            match s.to {
                Level::Plan => 0.75,
                Level::Time => 0.85,
                _ => 0.88,
            }
        };
        let accept = self.rng.random_bool(chance);
        self.push_action(
            day,
            minute,
            Action::Decide {
                suggestion: index,
                accept,
            },
        );
    }

    /// The member of staff who decides on a move to `to` for pupil `p`.
    fn decider(&self, p: usize, to: Level) -> usize {
        match to {
            Level::Provision => SLT,
            Level::Programme => SENDCO,
            _ => HOY_FIRST + (self.school.pupils[p].year - 7).clamp(0, 4) as usize,
        }
    }

    fn close_suggestion(
        &mut self,
        index: usize,
        status: SuggestionStatus,
        by: usize,
        at: DateTime<Utc>,
        note: Option<String>,
    ) {
        let (p, to) = {
            let s = &mut self.school.suggestions[index];
            s.status = status;
            s.decided_by = Some(by);
            s.decided_at = Some(at);
            s.decision_note = note;
            (s.pupil, s.to)
        };
        let sim = &mut self.sims[p];
        sim.open.retain(|&i| i != index);
        if let Some(pos) = sim.history.open_targets.iter().position(|&t| t == to) {
            sim.history.open_targets.remove(pos);
        }
        sim.history
            .decided
            .push(DecidedSuggestion { to, decided_at: at });
        if self.years > 0 && sim.history.decided.len() > 12 {
            // The rules only ask for the latest decision about each level.
            let decided = &mut sim.history.decided;
            decided.sort_by_key(|d| (d.to, std::cmp::Reverse(d.decided_at)));
            decided.dedup_by_key(|d| d.to);
        }
    }

    fn decide(&mut self, index: usize, accept: bool, at: DateTime<Utc>) {
        let (p, from, to, status) = {
            let s = &self.school.suggestions[index];
            (s.pupil, s.from, s.to, s.status)
        };
        if status != SuggestionStatus::Open {
            return;
        }
        let by = self.decider(p, to);
        let state = self.sims[p].history.state.clone();
        if state.level != from {
            self.close_suggestion(
                index,
                SuggestionStatus::Declined,
                by,
                at,
                Some("No longer applies: the pupil's level has changed since.".to_string()),
            );
            return;
        }
        if !accept {
            let reason = (*pick(&mut self.rng, DECLINE_REASONS)).to_string();
            self.close_suggestion(index, SuggestionStatus::Declined, by, at, Some(reason));
            if self.years > 0 && to >= from && from >= Level::Plan {
                // The support the pupil has is kept, and reviewed a few weeks on.
                let weeks = self.rng.random_range(4..=6);
                self.create_meeting(p, from, at, weeks * 5, MeetingKind::Review);
            }
            return;
        }
        let next = events_for_target(&state, to).and_then(|events| {
            events
                .iter()
                .try_fold(state.clone(), |s, event| apply(&s, event))
        });
        match next {
            Ok(next) => {
                let note = if self.rng.random_bool(0.4) {
                    Some((*pick(&mut self.rng, ACCEPT_NOTES)).to_string())
                } else {
                    None
                };
                self.close_suggestion(index, SuggestionStatus::Accepted, by, at, note);
                let reason = self.school.suggestions[index].reason.clone();
                self.change_level(p, next, at, by, reason, Some(index));
            }
            Err(err) => {
                self.close_suggestion(
                    index,
                    SuggestionStatus::Declined,
                    by,
                    at,
                    Some(format!("Not possible at the moment: {err}.")),
                );
            }
        }
    }

    /// Moves a pupil to a new state: records the change, closes what no longer applies and
    /// creates the meetings the new level calls for.
    fn change_level(
        &mut self,
        p: usize,
        next: PupilState,
        at: DateTime<Utc>,
        by: usize,
        reason: String,
        suggestion: Option<usize>,
    ) {
        let previous = self.sims[p].history.state.clone();
        self.school.level_changes.push(DemoLevelChange {
            pupil: p,
            from: previous.level,
            to: next.level,
            at,
            by: Some(by),
            reason,
            suggestion,
            programme_block: next.programme_block,
        });
        let level = next.level;
        let block = next.current_block();
        let moved_up = level > previous.level;
        let new_block = level == Level::Programme && previous.current_block() != block;
        self.sims[p].history.state = next;
        // A new programme block is not a new level: the rules count block reviews since the
        // pupil moved to the level.
        if level != previous.level {
            self.sims[p].history.level_since = at;
        }
        // Open suggestions made for the old level no longer apply.
        let stale: Vec<usize> = self.sims[p].open.clone();
        for index in stale {
            let note = format!("Superseded by the move to {}.", level.title());
            self.close_suggestion(index, SuggestionStatus::Declined, by, at, Some(note));
        }
        // Meetings for the old level are no longer needed.
        let pending = std::mem::take(&mut self.sims[p].pending_meetings);
        for m in pending {
            self.school.meetings[m].status = MeetingStatus::Cancelled;
        }
        if moved_up && level.needs_meeting() {
            let due_days = self.policy.meeting_due_days(level).unwrap_or(5);
            self.create_meeting(p, level, at, due_days, MeetingKind::Entry);
        }
        if new_block {
            if let Some(block) = block {
                self.create_meeting(p, level, at, block.weeks() * 5, MeetingKind::BlockReview);
            }
        }
        // Stepping down to a Coaching Plan: the plan's goals are reviewed a few weeks on.
        if level == Level::Plan && !moved_up {
            let weeks = self.rng.random_range(3..=5);
            self.create_meeting(p, level, at, weeks * 5, MeetingKind::Review);
        }
    }

    fn create_meeting(
        &mut self,
        p: usize,
        level: Level,
        created_at: DateTime<Utc>,
        due_days: u32,
        kind: MeetingKind,
    ) -> usize {
        let from = SchoolCalendar::local_date(created_at);
        let due_count = SchoolDayCount::new(from, due_days);
        let due_on = due_count.date(&self.calendar);
        let r: f64 = self.rng.random();
        let missed = r < 0.07;
        let late = !missed && r < 0.3;
        let day = if late {
            self.calendar
                .add_school_days(due_on, self.rng.random_range(1..=8))
        } else if kind == MeetingKind::Entry {
            self.calendar
                .add_school_days(from, self.rng.random_range(1..=due_days.max(1)))
        } else {
            // Reviews fall at the end of the block or review period.
            let early = self.rng.random_range(0..=2).min(due_days.saturating_sub(1));
            self.calendar.add_school_days(from, due_days - early)
        };
        let stays_due = self.sims[p].story == Some(Story::MeetingOverdue);
        let (day, missed) = if stays_due {
            (
                self.calendar.add_school_days(due_on, 10).max(self.today),
                false,
            )
        } else {
            (day, missed)
        };
        let minute = *pick(
            &mut self.rng,
            &[
                9 * 60 + 10,
                10 * 60 + 10,
                11 * 60 + 25,
                13 * 60 + 15,
                14 * 60 + 15,
                15 * 60 + 30,
                15 * 60 + 30,
                15 * 60 + 45,
                16 * 60,
            ],
        );
        let index = self.school.meetings.len();
        let participants = self.participants(p, level);
        self.school.meetings.push(DemoMeeting {
            pupil: p,
            level,
            created_at,
            due_on,
            due_count: Some(due_count),
            status: MeetingStatus::Due,
            starts_at: None,
            duration_minutes: None,
            location: None,
            participants,
            parent_invited: level >= Level::Plan || self.rng.random_bool(0.3),
            held_at: None,
            summary: None,
            goals_met: None,
        });
        self.plans.push(MeetingPlan {
            kind,
            day,
            minute,
            missed,
            stays_due,
        });
        self.sims[p].pending_meetings.push(index);
        if day < self.today {
            self.push_action(day, minute, Action::Meet { meeting: index });
        }
        index
    }

    fn participants(&mut self, p: usize, level: Level) -> Vec<usize> {
        let pupil = &self.school.pupils[p];
        let hoy = HOY_FIRST + (pupil.year - 7).clamp(0, 4) as usize;
        let tutor = self.form_tutor.get(&pupil.form).copied();
        // The adult at the scene of the latest incident.
        let at_scene = self.sims[p]
            .history
            .incidents
            .last()
            .and_then(|f| usize::try_from(f.id).ok())
            .and_then(|i| self.school.incidents.get(i))
            .map(|i| i.reporter);
        let mut people = match level {
            Level::Time => vec![hoy],
            Level::Plan => vec![hoy, SENDCO],
            Level::Programme => vec![SPECIALIST, SENDCO],
            _ => vec![SLT, SENDCO, hoy],
        };
        if level == Level::Time {
            people.extend(at_scene.or(tutor));
        } else if level == Level::Plan {
            people.extend(tutor);
        }
        if level == Level::Plan && self.rng.random_bool(0.3) {
            people.push(HOD);
        }
        let mut seen = HashSet::new();
        people.retain(|x| seen.insert(*x));
        people
    }

    fn book(&mut self, m: usize, starts_at: DateTime<Utc>) {
        let level = self.school.meetings[m].level;
        let duration = match level {
            Level::Time => *pick(&mut self.rng, &[20, 30, 30, 30, 45]),
            Level::Plan => 45,
            Level::Programme => 40,
            _ => 60,
        };
        let location = match level {
            Level::Time => (*pick(&mut self.rng, &MEETING_ROOMS[..3])).to_string(),
            _ => (*pick(&mut self.rng, &MEETING_ROOMS[2..])).to_string(),
        };
        let meeting = &mut self.school.meetings[m];
        meeting.starts_at = Some(starts_at);
        meeting.duration_minutes = Some(duration);
        meeting.location = Some(location);
    }

    /// A meeting's booked time arrives: it is held (and the rules look again) or missed (and rebooked).
    fn meet(&mut self, m: usize, at: DateTime<Utc>) {
        if self.school.meetings[m].status != MeetingStatus::Due {
            return;
        }
        let p = self.school.meetings[m].pupil;
        self.sims[p].pending_meetings.retain(|&x| x != m);
        self.book(m, at);
        let level = self.school.meetings[m].level;
        let kind = self.plans[m].kind;
        if self.plans[m].missed {
            self.school.meetings[m].status = MeetingStatus::Missed;
            self.create_meeting(p, level, at, 3, kind);
            return;
        }
        let block = self.sims[p].history.state.current_block();
        let settled = history_goals_chance(self.rate_now(p));
        let goals_met = match kind {
            MeetingKind::Entry => None,
            _ if self.years > 0 => Some(self.rng.random_bool(settled)),
            MeetingKind::BlockReview => {
                let chance = match block {
                    Some(ProgrammeBlock::TwoWeek) => 0.4,
                    _ => 0.5,
                };
                Some(self.rng.random_bool(chance))
            }
            MeetingKind::Review => {
                Some(
                    self.rng
                        .random_bool(if level == Level::Plan { 0.6 } else { 0.45 }),
                )
            }
        };
        let summary = match level {
            Level::Time => *pick(&mut self.rng, TIME_SUMMARIES),
            Level::Plan => *pick(&mut self.rng, PLAN_SUMMARIES),
            Level::Programme => *pick(&mut self.rng, PROGRAMME_SUMMARIES),
            _ => *pick(&mut self.rng, PROVISION_SUMMARIES),
        };
        let summary = match goals_met {
            Some(true) => format!("{summary} Goals met."),
            Some(false) => format!("{summary} Goals not yet met."),
            None => summary.to_string(),
        };
        {
            let meeting = &mut self.school.meetings[m];
            meeting.status = MeetingStatus::Held;
            meeting.held_at = Some(at);
            meeting.summary = Some(summary);
            meeting.goals_met = goals_met;
        }
        self.sims[p].history.meetings.push(MeetingFact {
            level,
            held_at: at,
            goals_met,
        });
        // Support helps: fewer incidents after each meeting.
        let (by, floor) = if self.years > 0 {
            (0.7, HISTORY_CALM_FLOOR)
        } else {
            (0.4, 0.1)
        };
        let t = &mut self.sims[p].temperament;
        t.calm = (t.calm * by).max(floor);
        let again = self.years > 0
            && kind == MeetingKind::Review
            && goals_met == Some(false)
            && matches!(level, Level::Plan | Level::Provision);
        if (level == Level::Provision && kind == MeetingKind::Entry) || again {
            // Over years, a plan or a provision map whose goals are not yet met is reviewed
            // again every few weeks.
            let weeks = self.rng.random_range(4..=6);
            self.create_meeting(p, level, at, weeks * 5, MeetingKind::Review);
        }
        self.evaluate_pupil(p, at + Duration::minutes(5));
    }

    // --- last school year ---------------------------------------------------------------

    /// Gives about 4% of pupils a history from last year: they start the term at levels 3-6.
    fn make_prior_history(&mut self) {
        let (least, prior) = if self.years > 0 {
            (0.35, 1.2..4.0)
        } else {
            (5.0, 9.0..20.0)
        };
        let mut candidates: Vec<usize> = (0..self.sims.len())
            .filter(|&p| self.sims[p].temperament.expected >= least * self.scale)
            .collect();
        for i in (1..candidates.len()).rev() {
            let j = self.rng.random_range(0..=i);
            candidates.swap(i, j);
        }
        let targets = [
            (Level::Time, 18),
            (Level::Plan, 6),
            (Level::Programme, 8),
            (Level::Provision, 6),
        ];
        let mut chosen = candidates.into_iter();
        let roll = self.pupils_per_year * YEARS.len();
        for (level, count) in targets {
            for _ in 0..(count * roll).div_ceil(PUPILS_PER_YEAR * YEARS.len()) {
                let Some(p) = chosen.next() else { return };
                let expected = self.rng.random_range(prior.clone()) * self.scale;
                let t = self.temperament(expected);
                self.sims[p].temperament = t;
                self.prior_chain(p, level);
            }
        }
    }

    /// Applies last year's events for a pupil and records the change.
    fn prior_change(
        &mut self,
        p: usize,
        events: &[Event],
        at: DateTime<Utc>,
        by: usize,
        reason: &str,
    ) {
        let state = self.sims[p].history.state.clone();
        let Ok(next) = events.iter().try_fold(state.clone(), |s, e| apply(&s, e)) else {
            return;
        };
        self.school.level_changes.push(DemoLevelChange {
            pupil: p,
            from: state.level,
            to: next.level,
            at,
            by: Some(by),
            reason: reason.to_string(),
            suggestion: None,
            programme_block: next.programme_block,
        });
        if next.level != state.level {
            self.sims[p].history.level_since = at;
        }
        self.sims[p].history.state = next;
    }

    /// A meeting held last school year.
    fn prior_meeting(
        &mut self,
        p: usize,
        level: Level,
        created_at: DateTime<Utc>,
        due_on: NaiveDate,
        at: DateTime<Utc>,
        goals_met: Option<bool>,
    ) {
        let participants = self.participants(p, level);
        let summary = match level {
            Level::Time => *pick(&mut self.rng, TIME_SUMMARIES),
            Level::Plan => *pick(&mut self.rng, PLAN_SUMMARIES),
            Level::Programme => *pick(&mut self.rng, PROGRAMME_SUMMARIES),
            _ => *pick(&mut self.rng, PROVISION_SUMMARIES),
        };
        let summary = match goals_met {
            Some(true) => format!("{summary} Goals met."),
            Some(false) => format!("{summary} Goals not yet met."),
            None => summary.to_string(),
        };
        let index = self.school.meetings.len();
        self.school.meetings.push(DemoMeeting {
            pupil: p,
            level,
            created_at,
            due_on,
            due_count: None,
            status: MeetingStatus::Held,
            starts_at: None,
            duration_minutes: None,
            location: None,
            participants,
            parent_invited: level >= Level::Plan,
            held_at: Some(at),
            summary: Some(summary),
            goals_met,
        });
        self.plans.push(MeetingPlan {
            kind: MeetingKind::Entry,
            day: SchoolCalendar::local_date(at),
            minute: school_minute(at),
            missed: false,
            stays_due: false,
        });
        self.book(index, at);
        self.sims[p].history.meetings.push(MeetingFact {
            level,
            held_at: at,
            goals_met,
        });
    }

    /// Builds last year's climb to `target` for a pupil, ending shortly before the summer
    /// holiday so that the next step (a meeting or a block review) falls in this term.
    fn prior_chain(&mut self, p: usize, target: Level) {
        let last_day = self.calendar.sub_school_days(self.start, 1);
        let hoy = HOY_FIRST + (self.school.pupils[p].year - 7).clamp(0, 4) as usize;
        let final_block = match self.rng.random_range(0..3) {
            0 => ProgrammeBlock::TwoWeek,
            1 => ProgrammeBlock::FourWeek,
            _ => ProgrammeBlock::SixWeek,
        };
        // School days before the holiday of the last change.
        let before_holiday = match target {
            Level::Time | Level::Plan => self.rng.random_range(0..3),
            Level::Programme => {
                let days = final_block.weeks() * 5;
                self.rng.random_range(days / 3..days - 1)
            }
            _ => self.rng.random_range(6..25),
        };
        let not_met = Event::ProgrammeBlockReviewed { goals_met: false };
        // Each step: the events, and school days until the next step.
        let mut steps: Vec<(Vec<Event>, u32)> = Vec::new();
        for level in [
            Level::Prompt,
            Level::Conversation,
            Level::Time,
            Level::Plan,
            Level::Programme,
        ] {
            if level > target {
                break;
            }
            let gap = if level == Level::Programme {
                ProgrammeBlock::TwoWeek.weeks() * 5
            } else {
                self.rng.random_range(8..16)
            };
            steps.push((vec![Event::Escalate], gap));
        }
        let more_blocks: &[ProgrammeBlock] = match (target, final_block) {
            (Level::Provision, _) | (_, ProgrammeBlock::SixWeek) => {
                &[ProgrammeBlock::FourWeek, ProgrammeBlock::SixWeek]
            }
            (Level::Programme, ProgrammeBlock::FourWeek) => &[ProgrammeBlock::FourWeek],
            _ => &[],
        };
        if target >= Level::Programme {
            for block in more_blocks {
                steps.push((vec![not_met.clone()], block.weeks() * 5));
            }
        }
        if target == Level::Provision {
            steps.push((vec![not_met.clone(), Event::Escalate], 0));
        }
        // Dates, walking back from the last step.
        let mut dates = vec![last_day; steps.len()];
        let mut d = self.calendar.sub_school_days(last_day, before_holiday);
        for i in (0..steps.len()).rev() {
            dates[i] = d;
            if i > 0 {
                d = self.calendar.sub_school_days(d, steps[i - 1].1.max(1));
            }
        }
        let count = steps.len();
        for (i, (events, _)) in steps.into_iter().enumerate() {
            let day = dates[i];
            let is_last = i + 1 == count;
            let at = school_time(day, 12 * 60 + 40 + self.rng.random_range(0..30));
            let before = self.sims[p].history.state.clone();
            let review = matches!(events.first(), Some(Event::ProgrammeBlockReviewed { .. }));
            if review {
                // The block just finished was reviewed that morning, with the parent.
                let morning = school_time(day, 9 * 60 + 10);
                let created = self
                    .school
                    .level_changes
                    .iter()
                    .rev()
                    .find(|c| c.pupil == p)
                    .map_or(morning, |c| c.at);
                self.prior_meeting(p, Level::Programme, created, day, morning, Some(false));
            }
            let to = match before.level {
                Level::Programme if events.len() > 1 => Level::Provision,
                Level::Programme => Level::Programme,
                other => other.next().unwrap_or(other),
            };
            let (by, reason) = match (to, review) {
                (Level::Prompt, _) => (hoy, "Several Coaching Prompts in one week (last year)."),
                (Level::Conversation, _) => (hoy, "Three Coaching Prompts within five school days (last year)."),
                (Level::Time, _) => (hoy, "Further incidents after Coaching Conversations (last year)."),
                (Level::Plan, _) => (hoy, "Difficulties persisted after Coaching Time (last year)."),
                (Level::Programme, false) => (SENDCO, "The Coaching Plan meeting planned a Coaching Programme (last year)."),
                (Level::Programme, true) => (SENDCO, "Block review: goals not yet met; moving to the next block (last year)."),
                _ => (SLT, "The final programme block was reviewed without its goals met; team to plan bespoke provision (last year)."),
            };
            self.prior_change(p, &events, at, by, reason);
            let level = self.sims[p].history.state.level;
            if level.needs_meeting() && level > before.level {
                let due_days = self.policy.meeting_due_days(level).unwrap_or(5);
                let due_on = self.calendar.add_school_days(day, due_days);
                let held_day = self
                    .calendar
                    .add_school_days(day, self.rng.random_range(1..=due_days.min(4)));
                let pending = is_last && matches!(level, Level::Time | Level::Plan);
                if pending || held_day > last_day {
                    self.create_meeting(p, level, at, due_days, MeetingKind::Entry);
                } else {
                    let held_at =
                        school_time(held_day, 15 * 60 + 30 + self.rng.random_range(0..30));
                    self.prior_meeting(p, level, at, due_on, held_at, None);
                }
            }
            if is_last && level == Level::Programme {
                if let Some(block) = self.sims[p].history.state.current_block() {
                    self.create_meeting(p, level, at, block.weeks() * 5, MeetingKind::BlockReview);
                }
            }
            if is_last && level == Level::Provision {
                let weeks = self.rng.random_range(3..=6);
                let start = school_time(self.start, 8 * 60);
                self.create_meeting(p, level, start, weeks * 5, MeetingKind::Review);
            }
        }
    }

    // --- the end of the term ---------------------------------------------------------------

    /// Books some of the meetings still to come, and copies each pupil's final level.
    fn finish(&mut self) {
        for m in 0..self.school.meetings.len() {
            if self.school.meetings[m].status != MeetingStatus::Due || self.plans[m].stays_due {
                continue;
            }
            let due_on = self.school.meetings[m].due_on;
            let overdue = due_on < self.today;
            let book = self.rng.random_bool(if overdue { 0.25 } else { 0.55 });
            if book {
                let mut day = self.plans[m].day;
                if day <= self.today {
                    day = self
                        .calendar
                        .add_school_days(self.today, self.rng.random_range(1..=3));
                }
                let at = school_time(day, self.plans[m].minute);
                self.book(m, at);
                self.school.meetings[m].status = MeetingStatus::Scheduled;
            }
        }
        for (p, sim) in self.sims.iter().enumerate() {
            let pupil = &mut self.school.pupils[p];
            let state = &sim.history.state;
            pupil.level = state.level;
            pupil.programme_block = state.programme_block;
            pupil.had_plan = state.had_plan;
            pupil.programme_without_impact = state.programme_completed_without_impact;
            pupil.level_since = sim.history.level_since;
        }
        // Last year's changes were made pupil by pupil: put every change in time order.
        self.school.level_changes.sort_by_key(|c| c.at);
    }
}

/// Over years of history, a pupil's usual rate of incidents (before their year group, SEN
/// status and support change it; one unit is about 0.4 incidents a school day) from two
/// uniform draws in `[0, 1)`: which band the pupil falls in, and where in the band. A real school has most pupils with a few incidents a year
/// or none and a few with several a week: about 80% of pupils stay in universal support
/// (levels 0-2), 15% need targeted support (3-4) and 5% specialist support (5-6), and a
/// tenth of the pupils hold well over half of the incidents.
pub fn history_draw(band: f64, within: f64) -> f64 {
    const BANDS: [(f64, f64, f64); 6] = [
        // (share of pupils up to here, fewest, most)
        (0.36, 0.0, 0.0),
        (0.70, 0.01, 0.08),
        (0.82, 0.08, 0.35),
        (0.955, 0.35, 1.2),
        (0.985, 1.2, 4.0),
        (1.0, 6.0, 20.0),
    ];
    let (_, low, high) = BANDS
        .iter()
        .copied()
        .find(|(upto, _, _)| band < *upto)
        .unwrap_or(BANDS[BANDS.len() - 1]);
    low + (high - low) * within.clamp(0.0, 1.0)
}

/// Over years of history, the chance that a review finds a pupil's goals met, from the
/// incidents a school day they are now having: likely for a pupil who has settled, unlikely
/// for one still in difficulty (so the pupils at levels 5 and 6 are those who need them).
pub fn history_goals_chance(rate: f64) -> f64 {
    (0.85 * (-rate.max(0.0) / 0.4).exp()).max(0.05)
}

/// The school's closures around a term starting on `term_start`: last summer's holiday, an
/// INSET day and the October half-term inside the term, and the coming Christmas holiday.
fn term_closures(term_start: NaiveDate) -> Vec<Closure> {
    let inset = term_start + Duration::weeks(4) + Duration::days(4);
    let half_term = term_start + Duration::weeks(7);
    let christmas = term_start + Duration::weeks(16);
    vec![
        Closure {
            starts_on: term_start - Duration::weeks(6),
            ends_on: term_start - Duration::days(3),
            kind: ClosureKind::Holiday,
            name: "Summer holiday".to_string(),
        },
        Closure {
            starts_on: inset,
            ends_on: inset,
            kind: ClosureKind::Inset,
            name: "INSET day".to_string(),
        },
        Closure {
            starts_on: half_term,
            ends_on: half_term + Duration::days(4),
            kind: ClosureKind::Holiday,
            name: "October half-term".to_string(),
        },
        Closure {
            starts_on: christmas,
            ends_on: christmas + Duration::days(11),
            kind: ClosureKind::Holiday,
            name: "Christmas holiday".to_string(),
        },
    ]
}

/// The closures of a whole school year whose autumn term starts on `autumn`, laid out like
/// the demo's term: an INSET day and half-terms in each term, the Christmas and Easter
/// holidays, and the summer holiday before it.
fn past_year_closures(autumn: NaiveDate) -> Vec<Closure> {
    let mut closures = term_closures(autumn);
    let spring = autumn + Duration::weeks(18);
    let summer = autumn + Duration::weeks(32);
    for (starts_on, days, name) in [
        (spring + Duration::weeks(6), 4, "February half-term"),
        (spring + Duration::weeks(12), 11, "Easter holiday"),
        (summer + Duration::weeks(6), 4, "May half-term"),
    ] {
        closures.push(Closure {
            starts_on,
            ends_on: starts_on + Duration::days(days),
            kind: ClosureKind::Holiday,
            name: name.to_string(),
        });
    }
    closures
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::sync::OnceLock;

    /// A Wednesday in early December.
    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 12, 3).unwrap()
    }

    /// The school most tests look at, generated once.
    fn school() -> &'static DemoSchool {
        static SCHOOL: OnceLock<DemoSchool> = OnceLock::new();
        SCHOOL.get_or_init(|| generate(2026, today()))
    }

    fn calendar(school: &DemoSchool) -> SchoolCalendar {
        SchoolCalendar::new(school.closures.clone()).unwrap()
    }

    fn start_of(day: NaiveDate) -> DateTime<Utc> {
        school_time(day, 0)
    }

    #[test]
    fn upn_check_letters_follow_the_dfe_algorithm() {
        // A commonly cited valid UPN: B801200005001.
        let digits: [u8; 12] = [8, 0, 1, 2, 0, 0, 0, 0, 5, 0, 0, 1];
        assert_eq!(upn_check_letter(&digits), 'B');
    }

    #[test]
    fn generation_is_deterministic_for_a_seed() {
        let a = generate(7, today());
        let b = generate(7, today());
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
        let c = generate(8, today());
        assert_ne!(
            a.pupils.iter().map(|p| &p.upn).collect::<Vec<_>>(),
            c.pupils.iter().map(|p| &p.upn).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_thousand_pupils_with_unique_valid_upns() {
        let school = school();
        assert_eq!(school.code, "DEMO");
        assert_eq!(school.name, "Steadfast Demo Academy");
        assert_eq!(school.pupils.len(), 1000);
        let upns: HashSet<&str> = school.pupils.iter().map(|p| p.upn.as_str()).collect();
        assert_eq!(upns.len(), 1000);
        let forms: HashSet<&str> = school.forms.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(school.forms.len(), 40);
        assert_eq!(school.houses.len(), 4);
        for pupil in &school.pupils {
            assert!((7..=11).contains(&pupil.year), "{pupil:?}");
            assert!(forms.contains(pupil.form.as_str()));
            assert!(pupil.form.starts_with(&pupil.year.to_string()));
            assert!(school.houses.contains(&pupil.house));
            assert_eq!(pupil.upn.len(), 13);
            let digits: Vec<u8> = pupil.upn.bytes().skip(1).map(|b| b - b'0').collect();
            assert!(digits.iter().all(|d| *d <= 9), "{}", pupil.upn);
            let digits: [u8; 12] = digits.try_into().unwrap();
            assert_eq!(pupil.upn.chars().next(), Some(upn_check_letter(&digits)));
        }
        for year in YEARS {
            assert_eq!(school.pupils.iter().filter(|p| p.year == year).count(), 200);
        }
    }

    #[test]
    fn names_and_sen_statuses_are_varied() {
        let school = school();
        let given: HashSet<&str> = school
            .pupils
            .iter()
            .map(|p| p.given_name.as_str())
            .collect();
        let family: HashSet<&str> = school
            .pupils
            .iter()
            .map(|p| p.family_name.as_str())
            .collect();
        assert!(given.len() > 150, "{}", given.len());
        assert!(family.len() > 150, "{}", family.len());
        let count = |status: &str| {
            school
                .pupils
                .iter()
                .filter(|p| p.sen_status == status)
                .count()
        };
        assert!((780..=880).contains(&count("none")), "{}", count("none"));
        assert!(
            (90..=170).contains(&count("sen_support")),
            "{}",
            count("sen_support")
        );
        assert!((20..=65).contains(&count("ehcp")), "{}", count("ehcp"));
    }

    #[test]
    fn demo_logins_and_staff() {
        let school = school();
        assert_eq!(school.password, "steadfast-demo");
        let role_of = |email: &str| {
            school
                .staff
                .iter()
                .find(|s| s.email == email)
                .map(|s| (s.roles.clone(), s.year_groups.clone()))
        };
        for (email, role) in [
            ("admin@demo.example", "admin"),
            ("slt@demo.example", "slt"),
            ("sendco@demo.example", "sendco"),
            ("hod@demo.example", "hod"),
            ("specialist@demo.example", "specialist"),
            ("teacher@demo.example", "class_staff"),
        ] {
            assert_eq!(
                role_of(email),
                Some((vec![role.to_string()], vec![])),
                "{email}"
            );
        }
        for year in YEARS {
            assert_eq!(
                role_of(&format!("hoy{year}@demo.example")),
                Some((vec!["pastoral_lead".to_string()], vec![year]))
            );
        }
        let emails: HashSet<&str> = school.staff.iter().map(|s| s.email.as_str()).collect();
        assert_eq!(emails.len(), school.staff.len());
        assert!(school.staff.len() >= 60);
        for staff in &school.staff {
            assert!(staff.email.ends_with("@demo.example"));
            for role in &staff.roles {
                assert!(Role::parse(role).is_ok(), "{role}");
            }
        }
        for form in &school.forms {
            assert!(form.tutor.is_some_and(|t| t < school.staff.len()));
        }
    }

    #[test]
    fn the_calendar_has_a_half_term_and_an_inset_day_inside_the_term() {
        let school = school();
        let term_start = monday_of(today()) - Duration::weeks(13);
        let inside = |c: &Closure| term_start <= c.starts_on && c.ends_on < today();
        let half_terms: Vec<&Closure> = school
            .closures
            .iter()
            .filter(|c| c.kind == ClosureKind::Holiday && inside(c))
            .collect();
        assert_eq!(half_terms.len(), 1);
        assert_eq!(
            (half_terms[0].ends_on - half_terms[0].starts_on).num_days(),
            4
        );
        assert_eq!(half_terms[0].starts_on.weekday(), chrono::Weekday::Mon);
        let insets: Vec<&Closure> = school
            .closures
            .iter()
            .filter(|c| c.kind == ClosureKind::Inset)
            .collect();
        assert_eq!(insets.len(), 1);
        assert!(inside(insets[0]));
        let cal = calendar(school);
        assert!(
            (57..=63).contains(&cal.school_days_between(term_start - Duration::days(1), today()))
        );
    }

    #[test]
    fn incidents_happen_on_school_days_in_school_hours() {
        let school = school();
        let cal = calendar(school);
        assert!(school.incidents.len() > 1000);
        for incident in &school.incidents {
            let local = incident.occurred_at.with_timezone(&SCHOOL_TZ);
            assert!(cal.is_school_day(local.date_naive()), "{incident:?}");
            assert!(local.date_naive() < today());
            let minute = local.hour_minute();
            assert!((8 * 60 + 40..=15 * 60 + 20).contains(&minute), "{local}");
            assert!(!incident.pupils.is_empty() && incident.pupils.len() <= 3);
            assert!(incident.pupils.iter().all(|&p| p < school.pupils.len()));
            assert!(incident.reporter < school.staff.len());
        }
        let serious = school
            .incidents
            .iter()
            .filter(|i| i.severity == Severity::Serious)
            .count();
        assert!(serious > 0 && serious * 20 < school.incidents.len());
        let prompts = school
            .incidents
            .iter()
            .filter(|i| i.response == Response::Prompt)
            .count();
        assert!(prompts * 2 > school.incidents.len());
        assert!(school.incidents.iter().any(|i| i.pupils.len() > 1));
        let noted = school.incidents.iter().filter(|i| i.note.is_some()).count();
        assert!(noted * 5 > school.incidents.len() && noted * 5 < school.incidents.len() * 2);
        // Most pupils have none or a couple; a minority have many.
        let mut per_pupil = vec![0; school.pupils.len()];
        for incident in &school.incidents {
            for &p in &incident.pupils {
                per_pupil[p] += 1;
            }
        }
        let few = per_pupil.iter().filter(|&&n| n <= 2).count();
        let many = per_pupil.iter().filter(|&&n| n >= 10).count();
        assert!(few > 600, "{few}");
        assert!((10..150).contains(&many), "{many}");
    }

    #[test]
    fn every_level_is_present() {
        let levels: BTreeSet<Level> = school().pupils.iter().map(|p| p.level).collect();
        assert_eq!(levels.into_iter().collect::<Vec<_>>(), Level::ALL.to_vec());
    }

    #[test]
    fn levels_agree_with_level_changes() {
        let school = school();
        let mut by_pupil: Vec<Vec<&DemoLevelChange>> = vec![Vec::new(); school.pupils.len()];
        for window in school.level_changes.windows(2) {
            assert!(window[0].at <= window[1].at);
        }
        for change in &school.level_changes {
            by_pupil[change.pupil].push(change);
        }
        for (p, pupil) in school.pupils.iter().enumerate() {
            let changes = &by_pupil[p];
            let mut level = Level::None;
            for change in changes {
                assert_eq!(change.from, level, "pupil {p}: {change:?}");
                assert!(change.by.is_some_and(|b| b < school.staff.len()));
                level = change.to;
                assert_eq!(change.programme_block.is_some(), level == Level::Programme);
            }
            assert_eq!(pupil.level, level, "pupil {p}");
            match changes.last() {
                Some(last) => {
                    assert_eq!(pupil.programme_block, last.programme_block, "pupil {p}");
                    let since = changes.iter().rev().find(|c| c.from != c.to).map(|c| c.at);
                    assert_eq!(Some(pupil.level_since), since, "pupil {p}");
                }
                None => {
                    assert_eq!(pupil.programme_block, None);
                    assert!(pupil.level_since < start_of(today()));
                }
            }
            if let Some(s) = changes.iter().filter_map(|c| c.suggestion).next_back() {
                let suggestion = &school.suggestions[s];
                assert_eq!(suggestion.pupil, p);
                assert_eq!(suggestion.status, SuggestionStatus::Accepted);
            }
            assert!(pupil.level_since < start_of(today()));
        }
        // Some pupils started the term with history from last year, at levels 3 to 6.
        let term_start = start_of(monday_of(today()) - Duration::weeks(13));
        let prior: HashSet<usize> = school
            .level_changes
            .iter()
            .filter(|c| c.at < term_start)
            .map(|c| c.pupil)
            .collect();
        assert!((30..=50).contains(&prior.len()), "{}", prior.len());
        // Step-downs happen.
        assert!(school
            .level_changes
            .iter()
            .any(|c| c.to < c.from && c.at > term_start));
    }

    /// The pupils' levels, histories, prompts and meetings as `steadfast check` reads them.
    fn consistency_records(school: &DemoSchool) -> Vec<crate::domain::consistency::PupilRecords> {
        use crate::domain::consistency::{
            MadeAt, OpenMeeting, PupilRecords, RecordedChange, StoredLevel,
        };
        let mut records: Vec<PupilRecords> = school
            .pupils
            .iter()
            .enumerate()
            .map(|(p, pupil)| PupilRecords {
                pupil_id: p as i64,
                stored: StoredLevel {
                    level: pupil.level.number(),
                    level_since: pupil.level_since,
                    programme_block: pupil.programme_block.map(|b| b.weeks() as i16),
                    had_plan: pupil.had_plan,
                    programme_without_impact: pupil.programme_without_impact,
                },
                changes: Vec::new(),
                prompts: Vec::new(),
                plans: Vec::new(),
                blocks: Vec::new(),
                provisions: Vec::new(),
                open_meetings: Vec::new(),
            })
            .collect();
        for (id, change) in school.level_changes.iter().enumerate() {
            records[change.pupil].changes.push(RecordedChange {
                id: id as i64,
                from: change.from.number(),
                to: change.to.number(),
                at: change.at,
                is_override: false,
            });
        }
        for (id, incident) in school.incidents.iter().enumerate() {
            if incident.response == Response::Prompt {
                for &p in &incident.pupils {
                    // The demo logs each incident as it happens.
                    records[p].prompts.push(MadeAt {
                        id: id as i64,
                        at: incident.occurred_at,
                    });
                }
            }
        }
        for (id, meeting) in school.meetings.iter().enumerate() {
            if matches!(
                meeting.status,
                MeetingStatus::Due | MeetingStatus::Scheduled
            ) {
                records[meeting.pupil].open_meetings.push(OpenMeeting {
                    id: id as i64,
                    level: meeting.level.number(),
                });
            }
        }
        records
    }

    #[test]
    fn every_pupil_passes_the_consistency_check() {
        use crate::domain::consistency::check_pupils;
        let school = school();
        let problems = check_pupils(&consistency_records(school));
        assert!(
            problems.is_empty(),
            "{} problems: {:?}",
            problems.len(),
            &problems[..problems.len().min(5)]
        );
        // A prompt leaves its pupil at a level, so some pupils are at Coaching Prompt.
        assert!(school.pupils.iter().any(|p| p.level == Level::Prompt));
        let small = small_school(3);
        let problems = check_pupils(&consistency_records(&small));
        assert!(
            problems.is_empty(),
            "{} problems: {:?}",
            problems.len(),
            &problems[..problems.len().min(5)]
        );
    }

    #[test]
    fn suggestions_are_consistent() {
        let school = school();
        let mut open_up = 0;
        let mut open_down = 0;
        for s in &school.suggestions {
            assert!(s.created_at < start_of(today()));
            for &i in &s.evidence {
                assert!(school.incidents[i].pupils.contains(&s.pupil), "{s:?}");
                assert!(school.incidents[i].occurred_at <= s.created_at);
            }
            match s.status {
                SuggestionStatus::Open => {
                    assert!(s.decided_at.is_none() && s.decided_by.is_none());
                    assert_eq!(s.from, school.pupils[s.pupil].level, "{s:?}");
                    if s.to < s.from {
                        open_down += 1;
                    } else {
                        open_up += 1;
                    }
                }
                SuggestionStatus::Accepted | SuggestionStatus::Declined => {
                    let decided = s.decided_at.unwrap();
                    assert!(decided >= s.created_at && decided < start_of(today()));
                    assert!(s.decided_by.is_some());
                }
            }
            if s.status == SuggestionStatus::Declined {
                assert!(s.decision_note.is_some());
            }
        }
        assert!(open_up > 0, "no open escalation");
        assert!(open_down > 0, "no open step-down");
        assert!(school
            .suggestions
            .iter()
            .any(|s| s.status == SuggestionStatus::Declined));
    }

    #[test]
    fn meetings_in_every_state() {
        let school = school();
        let statuses: HashSet<MeetingStatus> = school.meetings.iter().map(|m| m.status).collect();
        for status in [
            MeetingStatus::Due,
            MeetingStatus::Scheduled,
            MeetingStatus::Held,
            MeetingStatus::Missed,
        ] {
            assert!(statuses.contains(&status), "{status:?}");
        }
        let overdue = school
            .meetings
            .iter()
            .filter(|m| m.status == MeetingStatus::Due && m.due_on < today())
            .count();
        assert!(overdue > 0);
        for m in &school.meetings {
            assert!(m.level >= Level::Time);
            assert!(!m.participants.is_empty());
            assert!(m.participants.iter().all(|&s| s < school.staff.len()));
            assert!(m.created_at.date_naive() <= m.due_on);
            match m.status {
                MeetingStatus::Held => {
                    let held = m.held_at.unwrap();
                    assert!(held < start_of(today()));
                    assert!(m.summary.is_some() && m.starts_at.is_some());
                    assert!(held > m.created_at);
                }
                MeetingStatus::Scheduled => {
                    assert!(m.starts_at.unwrap() > start_of(today()));
                    assert!(m.held_at.is_none() && m.duration_minutes.is_some());
                }
                MeetingStatus::Due => assert!(m.starts_at.is_none() && m.held_at.is_none()),
                MeetingStatus::Missed => assert!(m.held_at.is_none() && m.starts_at.is_some()),
                MeetingStatus::Cancelled => assert!(m.held_at.is_none()),
            }
            // Only meetings of the pupil's current level are still to come.
            if matches!(m.status, MeetingStatus::Due | MeetingStatus::Scheduled) {
                assert_eq!(m.level, school.pupils[m.pupil].level, "{m:?}");
            }
        }
    }

    #[test]
    fn the_scripted_stories_are_always_there() {
        for (seed, today) in [
            (2026, today()),
            (5, NaiveDate::from_ymd_opt(2026, 2, 9).unwrap()),
        ] {
            let school = generate(seed, today);
            let pupil_in = |form: &str, position: usize| {
                let mut members = school
                    .pupils
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| p.form == form)
                    .map(|(i, _)| i);
                members.nth(position).unwrap()
            };
            let open = |p: usize| {
                school
                    .suggestions
                    .iter()
                    .filter(move |s| s.pupil == p && s.status == SuggestionStatus::Open)
            };
            let waiting = pupil_in("9C", 3);
            // The first prompt placed them at Coaching Prompt, as logging one does.
            assert_eq!(school.pupils[waiting].level, Level::Prompt);
            let s: Vec<&DemoSuggestion> = open(waiting).collect();
            assert_eq!(s.len(), 1);
            assert_eq!((s[0].to, s[0].evidence.len()), (Level::Conversation, 3));
            let quiet = pupil_in("8B", 5);
            assert_eq!(school.pupils[quiet].level, Level::Conversation);
            assert!(open(quiet).any(|s| s.to == Level::Prompt));
            let overdue = pupil_in("10D", 7);
            assert_eq!(school.pupils[overdue].level, Level::Time);
            assert!(school
                .meetings
                .iter()
                .any(|m| m.pupil == overdue && m.status == MeetingStatus::Due && m.due_on < today));
        }
    }

    #[test]
    fn works_for_any_day_of_the_week() {
        for (seed, day) in [(1, 1), (2, 6), (3, 7)] {
            let today = NaiveDate::from_ymd_opt(2026, 6, day).unwrap();
            let school = generate(seed, today);
            let cal = calendar(&school);
            assert!(school.incidents.iter().all(|i| cal
                .is_school_day(SchoolCalendar::local_date(i.occurred_at))
                && SchoolCalendar::local_date(i.occurred_at) < today));
            let levels: BTreeSet<Level> = school.pupils.iter().map(|p| p.level).collect();
            assert!(levels.len() >= 6, "{levels:?}");
        }
    }

    fn small_school(seed: u64) -> DemoSchool {
        let shape = SchoolShape {
            code: "DEMO02".to_string(),
            name: "Steadfast Demo School 02".to_string(),
            email_domain: "demo02.example".to_string(),
            pupils: 60,
            years: 1,
        };
        generate_school(&shape, seed, today())
    }

    #[test]
    fn a_school_with_a_year_of_history() {
        let school = small_school(11);
        assert_eq!(format!("{school:?}"), format!("{:?}", small_school(11)));
        assert_eq!(school.pupils.len(), 60);
        assert_eq!(school.email_domain(), "demo02.example");
        assert!(school
            .staff
            .iter()
            .all(|s| s.email.ends_with("@demo02.example")));
        assert!(school
            .staff
            .iter()
            .any(|s| s.email == "sendco@demo02.example"));
        // A year of holidays: two Christmases, an Easter and a summer.
        let named = |name: &str| school.closures.iter().filter(|c| c.name == name).count();
        assert_eq!(
            (named("Christmas holiday"), named("Easter holiday")),
            (2, 1)
        );
        let cal = calendar(&school);
        let first = today() - Duration::weeks(53);
        for incident in &school.incidents {
            let day = SchoolCalendar::local_date(incident.occurred_at);
            assert!(cal.is_school_day(day) && first < day && day < today());
        }
        // About 0.1 incidents a pupil a school day (most pupils far fewer, a few several a
        // day), spread over the year.
        let days = cal.school_days_between(first, today() - Duration::days(1));
        let rate = school.incidents.len() as f64 / (60.0 * f64::from(days));
        assert!((0.02..1.0).contains(&rate), "{rate}");
        let early = school
            .incidents
            .iter()
            .filter(|i| i.occurred_at < start_of(first + Duration::weeks(26)))
            .count();
        assert!(early * 4 > school.incidents.len(), "{early}");
        let mut level = vec![Level::None; school.pupils.len()];
        for change in &school.level_changes {
            assert_eq!(change.from, level[change.pupil], "{change:?}");
            level[change.pupil] = change.to;
        }
        for (p, pupil) in school.pupils.iter().enumerate() {
            assert_eq!(pupil.level, level[p], "pupil {p}");
        }
    }

    #[test]
    fn over_years_most_pupils_have_few_incidents_and_a_few_have_many() {
        // The bands of `history_draw`, walked in steps of a thousandth.
        let draws: Vec<f64> = (0..1000)
            .map(|i| history_draw((f64::from(i) + 0.5) / 1000.0, 0.5))
            .collect();
        let share = |f: &dyn Fn(f64) -> bool| {
            draws.iter().filter(|&&d| f(d)).count() as f64 / draws.len() as f64
        };
        // Over a third with none, two thirds with at most a few a year.
        assert!((0.3..0.45).contains(&share(&|d| d == 0.0)));
        assert!((0.6..0.8).contains(&share(&|d| d < 0.1)));
        // A few pupils with several a day.
        assert!((0.01..0.03).contains(&share(&|d| d >= 6.0)));
        let total: f64 = draws.iter().sum();
        let mut sorted = draws.clone();
        sorted.sort_by(|a, b| b.total_cmp(a));
        let top_tenth: f64 = sorted.iter().take(100).sum();
        assert!(top_tenth / total > 0.7, "{}", top_tenth / total);
        // Reviews find settled pupils' goals met, and struggling pupils' goals not.
        assert!(history_goals_chance(0.0) > 0.8);
        assert!(history_goals_chance(0.05) > 0.7);
        assert!(history_goals_chance(1.0) < 0.1);
        assert!(history_goals_chance(10.0) >= 0.05);
    }

    #[test]
    fn a_school_over_three_years_keeps_the_usual_shape() {
        // About 80% of pupils in universal support, 15% targeted and 5% specialist, and the
        // incidents held by a few pupils.
        let shape = SchoolShape {
            code: DEMO_CODE.to_string(),
            name: DEMO_NAME.to_string(),
            email_domain: DEMO_DOMAIN.to_string(),
            pupils: 1200,
            years: 3,
        };
        for (seed, day) in [(2026, today()), (2031, today() + Duration::days(150))] {
            let school = generate_school(&shape, seed, day);
            let s = school.support_shape();
            let [universal, targeted, specialist] = s.tiers;
            let what = s.describe();
            assert!((0.75..=0.85).contains(&universal), "{what}");
            assert!((0.10..=0.20).contains(&targeted), "{what}");
            assert!((0.02..=0.08).contains(&specialist), "{what}");
            assert!(s.top_tenth > 0.5, "{what}");
            assert!(s.top_fiftieth > 0.2, "{what}");
            assert!((0.1..0.4).contains(&s.without_incident), "{what}");
            // Some tens of thousands of incidents, as a large school logs over three years.
            assert!(
                (40_000..200_000).contains(&school.incidents.len()),
                "{what}"
            );
        }
    }
}
