//! The demo school: a realistic secondary school with a simulated term of incidents, suggestions,
//! level changes and meetings, produced by a pure, seeded generator for the storage layer to insert;
//! then plans, programme sessions and provision maps for the pupils at levels 4 to 6. `scale`
//! loads many such schools with years of history, for trying and measuring at scale.

mod bulk;
mod catalogue;
pub mod generate;
pub mod load;
mod names;
pub mod scale;
pub mod shape;
mod support;

pub use generate::{
    generate, generate_school, DemoForm, DemoIncident, DemoLevelChange, DemoMeeting, DemoPupil,
    DemoSchool, DemoStaff, DemoSuggestion, MeetingStatus, SchoolShape, SuggestionStatus, DEMO_CODE,
    DEMO_DOMAIN, DEMO_NAME, DEMO_PASSWORD,
};
