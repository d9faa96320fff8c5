//! The demo school: a realistic secondary school with a simulated term of incidents, suggestions,
//! level changes and meetings, produced by a pure, seeded generator for the storage layer to insert;
//! then plans, programme sessions and provision maps for the pupils at levels 4 to 6.

mod catalogue;
pub mod generate;
pub mod load;
mod names;
mod support;

pub use generate::{
    generate, DemoForm, DemoIncident, DemoLevelChange, DemoMeeting, DemoPupil, DemoSchool,
    DemoStaff, DemoSuggestion, MeetingStatus, SuggestionStatus, DEMO_CODE, DEMO_NAME,
    DEMO_PASSWORD,
};
