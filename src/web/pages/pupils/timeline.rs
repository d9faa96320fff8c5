//! The pupil page's timeline: one entry per incident, conversation, level change,
//! suggestion, meeting and programme session, and the filters above it.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use maud::{html, Markup};

use super::page::{evidence_of, Filters, PupilPage, EVIDENCE_SHOWN};
use crate::db::from_db_time;
use crate::db::models::{IncidentRow, SuggestionRow};
use crate::db::timeline::{EventDetail, EventKind, TimelineEvent};
use crate::domain::programme::SessionOutcome;
use crate::domain::words::{level_of, MeetingKind};
use crate::domain::Move;
use crate::web::pages::form::local;

fn response_words(response: &str) -> &'static str {
    match response {
        "prompt" => "Coaching Prompt given",
        "conversation" => "Coaching Conversation held",
        _ => "no coaching response",
    }
}

fn time_of(at: DateTime<Utc>) -> Markup {
    html! { time datetime=(at.to_rfc3339()) { (local(at)) } }
}

/// A short list of incidents by their time and behaviour (evidence, or followed up).
fn incident_list(ids: &[i64], known: &HashMap<i64, IncidentRow>) -> Markup {
    html! {
        ul.evidence {
            @for id in ids.iter().take(EVIDENCE_SHOWN) {
                li {
                    @if let Some(incident) = known.get(id) {
                        a href={ "#incident-" (id) } { (local(from_db_time(incident.occurred_at))) }
                        " · " (incident.behaviour)
                        @if incident.voided_at.is_some() { " " span.tag { "undone" } }
                    } @else {
                        "Incident " (id)
                    }
                }
            }
            @if ids.len() > EVIDENCE_SHOWN { li.muted { "and " (ids.len() - EVIDENCE_SHOWN) " more" } }
        }
    }
}

pub(super) fn suggestion_body(row: &SuggestionRow, known: &HashMap<i64, IncidentRow>) -> Markup {
    let evidence = evidence_of(row);
    html! {
        p { (row.reason) }
        @if row.status == "open" && !evidence.is_empty() {
            p.muted { "Evidence:" }
            (incident_list(&evidence, known))
        }
    }
}

pub(super) fn render_event(event: &TimelineEvent, data: &PupilPage) -> Markup {
    html! {
        @match &event.detail {
            EventDetail::Incident(row, logged_by) => {
                @let undone = row.voided_at.is_some();
                li.entry.incident.undone[undone] id={ "incident-" (row.id) } {
                    (time_of(event.at))
                    strong {
                        @if undone { del { (row.behaviour) } } @else { (row.behaviour) }
                    }
                    @if undone { " " span.tag.alert { "undone" } }
                    @if row.edited_at.is_some() { " " span.tag { "edited" } }
                    p {
                        (row.severity) " · " (response_words(&row.response))
                        @if let Some(lesson) = &row.lesson { " · lesson: " (lesson) }
                        @if let Some(location) = &row.location { " · where: " (location) }
                        " · logged by " (logged_by)
                    }
                    @if let Some(note) = &row.note { p.note { (note) } }
                    @if data.may_erase { p.small { a.erase href={ "/incidents/" (row.id) "/erase" } { "Erase this incident…" } } }
                }
            }
            EventDetail::Conversation(c) => {
                li.entry.conversation id={ "conversation-" (c.id) } {
                    (time_of(event.at))
                    strong { "Coaching Conversation" }
                    " held by " (c.held_by)
                    @if let Some(with_whom) = &c.with_whom { " with " (with_whom) }
                    dl.seeds {
                        dt { "What happened" } dd { (c.what_happened) }
                        @if let Some(text) = &c.what_got_in_the_way { dt { "What got in the way" } dd { (text) } }
                        @if let Some(text) = &c.what_could_help { dt { "What could help" } dd { (text) } }
                        dt { "The plan for next time" } dd { (c.plan_next_time) }
                        @if let Some(text) = &c.good_for_everyone { dt { "Good for me, good for you, good for everyone" } dd { (text) } }
                    }
                    @if let Some(ids) = data.followed_up.get(&c.id) {
                        p.muted { "Follows up:" }
                        (incident_list(ids, &data.incidents))
                    }
                    @if data.may_erase { p.small { a.erase href={ "/conversations/" (c.id) "/erase" } { "Erase this conversation…" } } }
                }
            }
            EventDetail::LevelChange(change) => {
                li.entry.level {
                    (time_of(event.at))
                    strong { (Move::between_numbers(change.from_level, change.to_level).made()) }
                    @if change.is_override { " " span.tag.override { "Override: SLT/SENDCO decision" } }
                    p { (change.reason) }
                }
            }
            EventDetail::Suggestion(row) => {
                li.entry.suggestion.open[row.status == "open"] {
                    (time_of(event.at))
                    strong { "Suggested: " (Move::between_numbers(row.from_level, row.to_level).suggested()) }
                    " " span.tag { (row.status) }
                    (suggestion_body(row, &data.incidents))
                }
            }
            EventDetail::Meeting(meeting) => {
                li.entry.meeting {
                    (time_of(event.at))
                    @let state = meeting.state(data.today);
                    strong { (MeetingKind::of_stored(level_of(meeting.level), &meeting.purpose).name()) ", " }
                    span class=(state.tag_class()) { (state.phrase()) }
                    @if let Some(summary) = &meeting.summary { p { (summary) } }
                }
            }
            EventDetail::Session(session) => {
                li.entry.session {
                    (time_of(event.at))
                    strong {
                        "Programme session: "
                        (session.outcome.as_deref().and_then(|o| SessionOutcome::parse(o).ok()).map_or("recorded", SessionOutcome::title))
                    }
                    @if let Some(minutes) = session.minutes { " (" (minutes) " minutes)" }
                    @if let Some(by) = &session.delivered_by { " with " (by) }
                    @if let Some(note) = session.note.as_ref().or(session.reason.as_ref()) { p { (note) } }
                }
            }
        }
    }
}

pub(super) fn render_filters(pupil_id: i64, filters: &Filters) -> Markup {
    let chosen = &filters.filter.kinds;
    let problem = filters.problem.as_ref();
    html! {
        form.filters method="get" action={ "/pupils/" (pupil_id) } {
            fieldset.kinds {
                legend { "Show" }
                @for kind in EventKind::ALL {
                    label.chip {
                        input type="checkbox" name="type" value=(kind.as_str())
                            checked[chosen.is_empty() || chosen.contains(&kind)];
                        " " (kind.label())
                    }
                }
            }
            div.row {
                label { "From " input type="date" name="from" value=(filters.from); }
                label { "To " input type="date" name="to" value=(filters.to); }
                button type="submit" { "Apply" }
                a href={ "/pupils/" (pupil_id) } { "Clear" }
            }
            @if let Some(problem) = problem {
                p.field-error role="alert" { (problem.to_string()) }
            }
        }
    }
}
