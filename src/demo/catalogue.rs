//! School-style word lists for the demo school: behaviours, lessons, rooms, notes and meeting records.

/// A behaviour a member of staff can log, with how often it is logged and whether it is serious.
pub struct BehaviourKind {
    /// The behaviour as shown to staff.
    pub name: &'static str,
    /// Relative frequency.
    pub weight: u32,
    /// Whether an incident of this kind is always marked serious.
    pub serious: bool,
    /// Whether the behaviour happens in lessons (otherwise around the site, at break or lunch).
    pub in_lesson: bool,
}

/// Behaviours logged in lessons and around the site.
pub const BEHAVIOURS: &[BehaviourKind] = &[
    BehaviourKind {
        name: "Low-level disruption",
        weight: 104,
        serious: false,
        in_lesson: true,
    },
    BehaviourKind {
        name: "Off task",
        weight: 72,
        serious: false,
        in_lesson: true,
    },
    BehaviourKind {
        name: "Talking over the teacher",
        weight: 36,
        serious: false,
        in_lesson: true,
    },
    BehaviourKind {
        name: "Late to lesson",
        weight: 48,
        serious: false,
        in_lesson: true,
    },
    BehaviourKind {
        name: "Equipment missing",
        weight: 36,
        serious: false,
        in_lesson: true,
    },
    BehaviourKind {
        name: "Homework not done",
        weight: 20,
        serious: false,
        in_lesson: true,
    },
    BehaviourKind {
        name: "Phone out",
        weight: 24,
        serious: false,
        in_lesson: true,
    },
    BehaviourKind {
        name: "Refusal to follow instruction",
        weight: 28,
        serious: false,
        in_lesson: true,
    },
    BehaviourKind {
        name: "Unkind words",
        weight: 20,
        serious: false,
        in_lesson: false,
    },
    BehaviourKind {
        name: "Uniform not correct",
        weight: 16,
        serious: false,
        in_lesson: false,
    },
    BehaviourKind {
        name: "Leaving lesson without permission",
        weight: 12,
        serious: false,
        in_lesson: true,
    },
    BehaviourKind {
        name: "Out of bounds",
        weight: 12,
        serious: false,
        in_lesson: false,
    },
    BehaviourKind {
        name: "Rough play",
        weight: 12,
        serious: false,
        in_lesson: false,
    },
    BehaviourKind {
        name: "Rudeness to staff",
        weight: 12,
        serious: false,
        in_lesson: true,
    },
    BehaviourKind {
        name: "Damage to property",
        weight: 1,
        serious: true,
        in_lesson: false,
    },
    BehaviourKind {
        name: "Physical altercation",
        weight: 1,
        serious: true,
        in_lesson: false,
    },
    BehaviourKind {
        name: "Bullying",
        weight: 1,
        serious: true,
        in_lesson: false,
    },
    BehaviourKind {
        name: "Discriminatory language",
        weight: 1,
        serious: true,
        in_lesson: false,
    },
];

/// A subject taught, with the room-name prefix and number of rooms of its department.
pub struct Subject {
    /// Lesson name.
    pub name: &'static str,
    /// Relative share of the timetable.
    pub weight: u32,
    /// Room code prefix, e.g. "S" for science labs.
    pub room_prefix: &'static str,
    /// How many rooms the department has.
    pub rooms: u32,
}

/// The timetable's subjects.
pub const SUBJECTS: &[Subject] = &[
    Subject {
        name: "English",
        weight: 14,
        room_prefix: "E",
        rooms: 10,
    },
    Subject {
        name: "Maths",
        weight: 14,
        room_prefix: "M",
        rooms: 10,
    },
    Subject {
        name: "Science",
        weight: 14,
        room_prefix: "S",
        rooms: 12,
    },
    Subject {
        name: "History",
        weight: 5,
        room_prefix: "H",
        rooms: 4,
    },
    Subject {
        name: "Geography",
        weight: 5,
        room_prefix: "G",
        rooms: 4,
    },
    Subject {
        name: "French",
        weight: 4,
        room_prefix: "L",
        rooms: 3,
    },
    Subject {
        name: "Spanish",
        weight: 4,
        room_prefix: "L",
        rooms: 3,
    },
    Subject {
        name: "Religious Education",
        weight: 3,
        room_prefix: "H",
        rooms: 2,
    },
    Subject {
        name: "Computing",
        weight: 4,
        room_prefix: "C",
        rooms: 3,
    },
    Subject {
        name: "Art",
        weight: 4,
        room_prefix: "A",
        rooms: 3,
    },
    Subject {
        name: "Music",
        weight: 3,
        room_prefix: "MU",
        rooms: 2,
    },
    Subject {
        name: "Drama",
        weight: 3,
        room_prefix: "D",
        rooms: 2,
    },
    Subject {
        name: "PE",
        weight: 8,
        room_prefix: "Sports hall ",
        rooms: 0,
    },
    Subject {
        name: "Design and Technology",
        weight: 4,
        room_prefix: "T",
        rooms: 3,
    },
    Subject {
        name: "PSHE",
        weight: 2,
        room_prefix: "E",
        rooms: 4,
    },
    Subject {
        name: "Tutor time",
        weight: 3,
        room_prefix: "Form room",
        rooms: 0,
    },
];

/// Places around the site outside lessons, with relative frequency.
pub const AROUND_SITE: &[(&str, u32)] = &[
    ("Corridor", 10),
    ("Playground", 9),
    ("Canteen", 7),
    ("Main stairwell", 3),
    ("Field", 3),
    ("Toilets", 2),
    ("Bus bay", 1),
    ("Library", 1),
];

/// Short neutral notes staff add to a share of incidents.
pub const INCIDENT_NOTES: &[&str] = &[
    "Settled after a reminder.",
    "Back on task quickly.",
    "Apologised at the end of the lesson.",
    "Second reminder needed.",
    "Moved seat; worked well afterwards.",
    "Spoke with the pupil after the lesson.",
    "Seemed tired today.",
    "Said something had happened at break.",
    "Calmer after a short walk outside.",
    "Equipment lent for the lesson.",
    "Parent informed by the tutor.",
    "Pupil explained; agreed a plan for next lesson.",
    "Follow-up with the form tutor.",
    "Happened during the changeover.",
    "Reluctant at first, then joined in.",
    "Shared with the Head of Year.",
    "Accepted the prompt well.",
    "Unsettled after lunch.",
];

/// Notes added to serious incidents.
pub const SERIOUS_NOTES: &[&str] = &[
    "Statements taken from those involved.",
    "First aid given; parents contacted.",
    "Removed to the pastoral office to calm down.",
    "Head of Year informed straight away.",
    "Parents contacted the same day.",
];

/// Summaries recorded when a Coaching Time meeting is held.
pub const TIME_SUMMARIES: &[&str] = &[
    "Looked at strengths and barriers; agreed one focus for the next two weeks.",
    "Talked through the incidents calmly; agreed to use the time-out card when frustrated.",
    "Followed up on earlier conversations; agreed to arrive at lessons with equipment ready.",
    "Pupil identified triggers around unstructured time; agreed a check-in with the tutor at lunch.",
    "Agreed small steps: sit at the front in science, ask for help instead of calling out.",
    "Reviewed last week's action steps; most kept. New focus on punctuality.",
];

/// Summaries recorded when a Coaching Plan meeting is held.
pub const PLAN_SUMMARIES: &[&str] = &[
    "Learning agreement drawn up with parent; goals, Pathway to Independence and success criteria agreed.",
    "Parent and SENDCO attended; three goals prioritised and a coaching programme planned.",
    "Plan agreed: daily check-in, movement breaks, report card reviewed weekly with home.",
    "Goals set around managing frustration and staying in lessons; programme sessions planned.",
];

/// Summaries recorded when a programme block is reviewed.
pub const PROGRAMME_SUMMARIES: &[&str] = &[
    "Block review with parent at the end of the final session; progress against the plan's goals discussed.",
    "Sessions mostly delivered; reviewed success criteria with pupil and parent.",
    "Specialist shared session notes; goals reviewed with the pupil.",
];

/// Summaries recorded when the Bespoke Provision Map team meets.
pub const PROVISION_SUMMARIES: &[&str] = &[
    "Team meeting with SLT, SENDCO and external professionals; options scoped, planning session with family booked.",
    "Provision map reviewed: mentoring, reduced timetable on Fridays, outreach support.",
    "Reviewed provision with family and social worker; next review date set.",
];

/// Reasons a Head of Year gives when declining a suggestion.
pub const DECLINE_REASONS: &[&str] = &[
    "Known circumstances at home this week; tutor is supporting.",
    "Incidents were in one cover lesson; keep at current level and review.",
    "Spoke with the pupil and the class teacher; not needed yet.",
    "Pupil recently joined a new group; giving it a week to settle.",
    "Already working closely with the SENDCO; revisit at the review.",
];

/// Notes a Head of Year adds when accepting a suggestion.
pub const ACCEPT_NOTES: &[&str] = &[
    "Agreed.",
    "Agreed after speaking with the tutor.",
    "Pattern confirmed by class teachers.",
    "Agreed; parent to be informed.",
];

/// Meeting rooms.
pub const MEETING_ROOMS: &[&str] = &[
    "Pastoral office",
    "Head of Year office",
    "Meeting room 1",
    "Meeting room 2",
    "SEND base",
    "Library study room",
];
