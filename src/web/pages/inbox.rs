//! The pastoral lead's inbox (`/inbox`, "Decisions"): the open suggestions a member may
//! decide, most urgent first, one card each with the reason in plain words, the evidence
//! linked to the pupil's timeline, and three forms: accept (with an optional note), decline
//! (with a required reason) and snooze to a date.
//!
//! After a decision the inbox shows what changed, read back from the records: the pupil,
//! their move, and the meeting created when the new level needs one. A problem with a form
//! shows the inbox again with the message next to that card's field; a suggestion decided
//! meanwhile shows the inbox with a conflict message and changes nothing.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{Days, NaiveDate, Utc};
use maud::{html, Markup};
use serde::Deserialize;

use super::form::{html_response, local, see_other};
use super::form_page::{PageResult, Visit};
use super::layout::{csrf_field, level_badge, page};
use super::with_counted_viewer;
use crate::db::decisions::{self, MAX_REASON_CHARS};
use crate::db::evaluation::{self, SchoolRules};
use crate::db::inbox::{self, Inbox, InboxItem, InboxQuery, Outcome, INBOX_LIMIT, INBOX_ROLES};
use crate::db::models::LevelChangeRow;
use crate::db::notices::NoticeContext;
use crate::db::staff::StaffMember;
use crate::db::DbConnection;
use crate::domain::calendar::SchoolCalendar;
use crate::domain::words::{self, level_of, MeetingKind};
use crate::domain::Move;
use crate::error::{Error, Result};
use crate::web::auth::{require_role, CsrfForm};
use crate::web::error::PageError;

/// The school's date today.
fn today() -> NaiveDate {
    SchoolCalendar::local_date(Utc::now())
}

/// The sentence confirming a move: "Amira Okafor: stepped up from Coaching Conversation to
/// Coaching Time." (with "(an override)" for an SLT or SENDCO override).
pub fn move_sentence(name: &str, change: &LevelChangeRow) -> String {
    let made = Move::between_numbers(change.from_level, change.to_level).made();
    let marked = if change.is_override {
        " (an override)"
    } else {
        ""
    };
    format!("{name}: {}{marked}.", words::mid_sentence(&made))
}

/// The sentence confirming a meeting created by a move.
pub fn meeting_sentence(meeting: &crate::db::models::MeetingRow) -> String {
    words::meeting_now_due(level_of(meeting.level), meeting.due_on)
}

// ---------------------------------------------------------------------------------------
// What the page shows

/// A problem with one card's form, shown next to its field with what was typed kept.
#[derive(Debug, Clone, Default)]
struct CardProblem {
    suggestion_id: i64,
    /// "note", "reason" or "until".
    field: String,
    message: String,
    /// What was typed into the field, to show again.
    value: String,
}

/// A message for the whole page.
#[derive(Debug, Clone)]
enum Banner {
    /// What a decision changed.
    Done(Vec<String>),
    /// Why a decision was not made.
    Refused(String),
}

/// Everything the inbox page shows, read in one transaction.
struct InboxPage {
    inbox: Inbox,
    rules: SchoolRules,
    today: NaiveDate,
    show_snoozed: bool,
    banner: Option<Banner>,
    problem: Option<CardProblem>,
}

/// The sentences confirming a decision, from what the records now say.
fn done_sentences(outcome: &Outcome) -> Vec<String> {
    let name = outcome.pupil.full_name();
    let mut said = Vec::new();
    match (&outcome.suggestion, &outcome.change) {
        (Some(s), Some(change)) if s.status == "accepted" => {
            said.push(format!("Accepted for {}", move_sentence(&name, change)));
        }
        (Some(s), _) if s.status == "declined" => {
            said.push(format!(
                "Declined for {name}: {} was not made; they stay at {}.",
                Move::between_numbers(s.from_level, s.to_level).suggested(),
                outcome.pupil.level.title()
            ));
        }
        (Some(s), _) if s.status == "open" => {
            if let Some(until) = s.snoozed_until {
                said.push(format!(
                    "Snoozed for {name} until {}: the suggestion comes back to the inbox then.",
                    words::long_date(until)
                ));
            }
        }
        (None, Some(change)) => said.push(move_sentence(&name, change)),
        _ => {}
    }
    if let Some(meeting) = &outcome.meeting {
        said.push(meeting_sentence(meeting));
    }
    said
}

/// Why a decision was refused, naming the pupil and, for a suggestion decided meanwhile,
/// who decided it and when.
fn refusal(
    conn: &mut DbConnection,
    school_id: i64,
    suggestion_id: i64,
    error: &Error,
) -> Result<String> {
    let outcome = inbox::suggestion_outcome(conn, school_id, suggestion_id, None)?;
    let Some(outcome) = outcome else {
        return Ok(format!("Nothing was changed: {error}."));
    };
    let mut message = format!("{}: {error}.", outcome.pupil.full_name());
    if !message.contains("nothing was changed") {
        message.push_str(" Nothing was changed.");
    }
    if let (Some(s), Some(by)) = (&outcome.suggestion, &outcome.decided_by) {
        if let Some(at) = s.decided_at {
            message.push_str(&format!(
                " It was {} by {by} on {}.",
                s.status,
                local(crate::db::from_db_time(at))
            ));
        }
    }
    Ok(message)
}

fn gather(
    conn: &mut DbConnection,
    member: &StaffMember,
    show_snoozed: bool,
    decided: Option<(i64, Option<i64>)>,
) -> Result<InboxPage> {
    let today = today();
    let inbox = inbox::for_member(
        conn,
        member,
        &InboxQuery {
            today,
            show_snoozed,
            limit: INBOX_LIMIT,
        },
    )?;
    let rules = evaluation::load_rules(conn, member.school_id)?;
    let banner = match decided {
        Some((id, meeting)) => inbox::suggestion_outcome(conn, member.school_id, id, meeting)?
            .filter(|o| {
                o.suggestion.as_ref().is_some_and(|s| {
                    decisions::may_decide(
                        member,
                        o.pupil.place(),
                        level_of(s.from_level),
                        level_of(s.to_level),
                    )
                })
            })
            .map(|o| done_sentences(&o))
            .filter(|said| !said.is_empty())
            .map(Banner::Done),
        None => None,
    };
    Ok(InboxPage {
        inbox,
        rules,
        today,
        show_snoozed,
        banner,
        problem: None,
    })
}

fn id_of(raw: Option<&str>) -> Option<i64> {
    raw.and_then(|v| v.trim().parse().ok())
}

/// `GET /inbox`: the open suggestions the member may decide; `?snoozed=1` lists the snoozed
/// ones too.
pub async fn show(visit: Visit) -> PageResult {
    require_role(&visit.member, &INBOX_ROLES)?;
    let query = &visit.query;
    let show_snoozed = query.get("snoozed") == Some("1");
    let decided = id_of(query.get("decided")).map(|id| (id, id_of(query.get("meeting"))));
    let for_member = visit.member.clone();
    let data = visit
        .state
        .db
        .transaction(move |conn| gather(conn, &for_member, show_snoozed, decided))
        .await?;
    Ok(respond(&visit, StatusCode::OK, &data))
}

fn respond(visit: &Visit, status: StatusCode, data: &InboxPage) -> HttpResponse {
    let member = &visit.member;
    let markup = with_counted_viewer(member, &visit.session, Some(data.inbox.open), |viewer| {
        page("Decisions", viewer, render(member, data, viewer.csrf))
    });
    html_response(status, markup)
}

// ---------------------------------------------------------------------------------------
// Deciding

/// The accept form's fields.
#[derive(Debug, Deserialize)]
pub struct AcceptForm {
    #[serde(default)]
    note: String,
}

/// The decline form's fields.
#[derive(Debug, Deserialize)]
pub struct DeclineForm {
    #[serde(default)]
    reason: String,
}

/// The snooze form's fields.
#[derive(Debug, Deserialize)]
pub struct SnoozeForm {
    #[serde(default)]
    until: String,
}

fn suggestion_id(path: &str) -> Result<i64> {
    path.trim()
        .parse()
        .map_err(|_| Error::NotFound("suggestion"))
}

/// Answers a decision: back to the inbox with its confirmation; the inbox again with the
/// problem next to the card's field (400), or with why nothing was changed (409, 422); a
/// page for anything else (403, 404).
async fn finish(
    visit: Visit,
    id: i64,
    typed: (&'static str, String),
    outcome: Result<Option<i64>>,
) -> PageResult {
    let error = match outcome {
        Ok(meeting) => {
            let mut to = format!("/inbox?decided={id}");
            if let Some(meeting) = meeting {
                to.push_str(&format!("&meeting={meeting}"));
            }
            return Ok(see_other(&to));
        }
        Err(error) => error,
    };
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let shown_on_inbox = matches!(&error, Error::Invalid { .. } | Error::Conflict { .. });
    if !shown_on_inbox {
        return Err(PageError(error));
    }
    let for_member = visit.member.clone();
    let data = visit
        .state
        .db
        .transaction(move |conn| {
            let mut data = gather(conn, &for_member, false, None)?;
            let listed = |data: &InboxPage| data.inbox.items.iter().any(|i| i.suggestion.id == id);
            if !listed(&data) && data.inbox.snoozed > 0 {
                // A snoozed card, decided from the list of snoozed ones: list them again.
                data = gather(conn, &for_member, true, None)?;
            }
            let (field, value) = typed;
            match (&error, error.field()) {
                (Error::Invalid { .. }, Some(f)) if f == field => {
                    data.problem = Some(CardProblem {
                        suggestion_id: id,
                        field: field.to_string(),
                        message: error.to_string(),
                        value,
                    });
                    if !listed(&data) {
                        data.banner = Some(Banner::Refused(refusal(
                            conn,
                            for_member.school_id,
                            id,
                            &error,
                        )?));
                    }
                }
                _ => {
                    data.banner = Some(Banner::Refused(refusal(
                        conn,
                        for_member.school_id,
                        id,
                        &error,
                    )?));
                }
            }
            Ok(data)
        })
        .await?;
    Ok(respond(&visit, status, &data))
}

/// `POST /inbox/{id}/accept`: accepts a suggestion, with an optional note. The pupil moves,
/// and the meeting the new level needs is created as due.
pub async fn accept(
    visit: Visit,
    path: web::Path<String>,
    CsrfForm(form): CsrfForm<AcceptForm>,
) -> PageResult {
    require_role(&visit.member, &INBOX_ROLES)?;
    let id = suggestion_id(&path)?;
    let note = form.note.trim().to_string();
    let (by, written) = (visit.member.clone(), note.clone());
    let context = NoticeContext::from_settings(&visit.state.settings);
    let outcome = visit
        .state
        .db
        .write(move |conn| {
            let rules = evaluation::load_rules(conn, by.school_id)?;
            let note = (!written.is_empty()).then_some(written.as_str());
            decisions::accept(conn, &by, id, note, &rules, &context, Utc::now())
                .map(|decision| decision.meeting.map(|m| m.id))
        })
        .await;
    finish(visit, id, ("note", note), outcome).await
}

/// `POST /inbox/{id}/decline`: declines a suggestion; the reason is required.
pub async fn decline(
    visit: Visit,
    path: web::Path<String>,
    CsrfForm(form): CsrfForm<DeclineForm>,
) -> PageResult {
    require_role(&visit.member, &INBOX_ROLES)?;
    let id = suggestion_id(&path)?;
    let (by, reason) = (visit.member.clone(), form.reason.clone());
    let outcome = visit
        .state
        .db
        .write(move |conn| decisions::decline(conn, &by, id, &reason, Utc::now()).map(|_| None))
        .await;
    finish(visit, id, ("reason", form.reason), outcome).await
}

/// `POST /inbox/{id}/snooze`: puts a suggestion aside until a later date.
pub async fn snooze(
    visit: Visit,
    path: web::Path<String>,
    CsrfForm(form): CsrfForm<SnoozeForm>,
) -> PageResult {
    require_role(&visit.member, &INBOX_ROLES)?;
    let id = suggestion_id(&path)?;
    let until = form.until.trim().to_string();
    let outcome = match NaiveDate::parse_from_str(&until, "%Y-%m-%d") {
        Ok(date) => {
            let by = visit.member.clone();
            visit
                .state
                .db
                .write(move |conn| {
                    let rules = evaluation::load_rules(conn, by.school_id)?;
                    decisions::snooze(conn, &by, id, date, &rules, Utc::now()).map(|_| None)
                })
                .await
        }
        Err(_) if until.is_empty() => Err(Error::invalid("until", "choose a date to snooze until")),
        Err(_) => Err(Error::invalid(
            "until",
            format!("until must be a date as YYYY-MM-DD, got {until:?}"),
        )),
    };
    finish(visit, id, ("until", form.until), outcome).await
}

// ---------------------------------------------------------------------------------------
// Rendering

/// The date a snooze is suggested for: a week today.
fn snooze_default(today: NaiveDate) -> NaiveDate {
    today.checked_add_days(Days::new(7)).unwrap_or(today)
}

/// The problem slot next to one card's field, filled when the problem is there.
fn card_problem(item_id: i64, field: &str, problem: Option<&CardProblem>) -> Markup {
    let message = problem
        .filter(|p| p.suggestion_id == item_id && p.field == field)
        .map(|p| p.message.as_str());
    html! {
        p.field-error id={ "error-" (field) "-" (item_id) } role="alert" hidden[message.is_none()] {
            @if let Some(message) = message { (message) }
        }
    }
}

/// What was typed in one card's field before a problem, or `default`.
fn typed<'a>(
    item_id: i64,
    field: &str,
    problem: Option<&'a CardProblem>,
    default: &'a str,
) -> &'a str {
    problem
        .filter(|p| p.suggestion_id == item_id && p.field == field)
        .map(|p| p.value.as_str())
        .unwrap_or(default)
}

/// What accepting will set in motion, when the new level needs a meeting.
fn accept_hint(item: &InboxItem, rules: &SchoolRules) -> Option<String> {
    if !Move::between(item.from, item.to).is_up() {
        return None;
    }
    let days = rules.policy.meeting_due_days(item.to)?;
    Some(format!(
        "Accepting creates the {}, due within {days} school {}.",
        MeetingKind::Level(item.to).name(),
        if days == 1 { "day" } else { "days" }
    ))
}

fn render_card(item: &InboxItem, data: &InboxPage, csrf: &str) -> Markup {
    let s = &item.suggestion;
    let pupil = &item.pupil;
    let problem = data.problem.as_ref();
    let problem_here = problem.filter(|p| p.suggestion_id == s.id);
    let decline_open = problem_here.is_some_and(|p| p.field == "reason");
    let snooze_open = problem_here.is_some_and(|p| p.field == "until");
    let timeline = format!("/pupils/{}", pupil.id);
    let tomorrow = data.today.succ_opt().unwrap_or(data.today);
    let latest = data
        .rules
        .policy
        .latest_snooze(&data.rules.calendar, data.today);
    let default_until = snooze_default(data.today).min(latest).to_string();
    html! {
        article.card.decision id={ "suggestion-" (s.id) } data-suggestion=(s.id) {
            h2 {
                a href=(timeline) { (pupil.full_name()) }
            }
            p.muted {
                "Year " (pupil.year) " · form " (pupil.form) " · now " (level_badge(pupil.level))
            }
            p.move {
                strong { (words::sentence_case(&Move::between(item.from, item.to).suggested())) }
                @if item.has_serious_evidence() { " " span.tag.alert { "serious incident" } }
                @if let Some(until) = item.snoozed_until { " " span.tag { "snoozed until " (words::long_date(until)) } }
            }
            p.reason { (s.reason) }
            @if item.evidence_count > 0 {
                p.muted { "Evidence" }
                ul.evidence {
                    @for incident in &item.evidence {
                        li {
                            a href={ (timeline) "#incident-" (incident.id) } { (local(incident.occurred_at)) }
                            " · " (incident.behaviour) " · "
                            @if incident.severity == "serious" { span.tag.alert { "serious" } } @else { (incident.severity) }
                            @if incident.undone { " " span.tag { "undone since" } }
                        }
                    }
                    @if item.evidence_count > item.evidence.len() {
                        li.muted {
                            a href={ (timeline) "#timeline" } { "and " (item.evidence_count - item.evidence.len()) " more on the timeline" }
                        }
                    }
                }
            }
            p.muted.small {
                "Suggested " (local(crate::db::from_db_time(s.created_at)))
                " · policy version " (s.policy_version)
            }
            div.decide {
                form.stack.accept method="post" action={ "/inbox/" (s.id) "/accept" } {
                    (csrf_field(csrf))
                    label for={ "note-" (s.id) } { "Note (optional)" }
                    textarea id={ "note-" (s.id) } name="note" rows="2" maxlength=(MAX_REASON_CHARS)
                        aria-describedby={ "error-note-" (s.id) } {
                        (typed(s.id, "note", problem, ""))
                    }
                    (card_problem(s.id, "note", problem))
                    @if let Some(hint) = accept_hint(item, &data.rules) { p.hint { (hint) } }
                    button.primary type="submit" { (Move::between(item.from, item.to).accept_action()) }
                }
                details.decline open[decline_open] {
                    summary { "Decline" }
                    form.stack method="post" action={ "/inbox/" (s.id) "/decline" } {
                        (csrf_field(csrf))
                        label for={ "reason-" (s.id) } { "Why not? (required)" }
                        textarea id={ "reason-" (s.id) } name="reason" rows="2" required maxlength=(MAX_REASON_CHARS)
                            aria-describedby={ "error-reason-" (s.id) } {
                            (typed(s.id, "reason", problem, ""))
                        }
                        (card_problem(s.id, "reason", problem))
                        button type="submit" { "Decline" }
                    }
                }
                details.snooze open[snooze_open] {
                    summary { "Snooze" }
                    form.stack method="post" action={ "/inbox/" (s.id) "/snooze" } {
                        (csrf_field(csrf))
                        label for={ "until-" (s.id) } { "Until" }
                        input id={ "until-" (s.id) } type="date" name="until" required
                            min=(tomorrow.to_string())
                            max=(latest.to_string())
                            value=(typed(s.id, "until", problem, &default_until))
                            aria-describedby={ "error-until-" (s.id) };
                        (card_problem(s.id, "until", problem))
                        button type="submit" { "Snooze" }
                    }
                }
            }
        }
    }
}

fn render(member: &StaffMember, data: &InboxPage, csrf: &str) -> Markup {
    let inbox = &data.inbox;
    let leads_nothing = member.has_role(crate::domain::Role::PastoralLead)
        && !member.leads_anyone()
        && !member.has_any_role(&[crate::domain::Role::Sendco, crate::domain::Role::Slt]);
    html! {
        h1 { "Decisions" }
        @match &data.banner {
            Some(Banner::Done(said)) => {
                div.notice #decided role="status" {
                    @for sentence in said { p { (sentence) } }
                }
            }
            Some(Banner::Refused(message)) => {
                p.error #refused role="alert" { (message) }
            }
            None => {}
        }
        p.muted {
            @match inbox.open {
                0 => "Nothing waiting for your decision.",
                1 => "1 suggestion waiting for your decision, most urgent first.",
                n => { (n) " suggestions waiting for your decision, most urgent first." }
            }
            @if inbox.snoozed > 0 || data.show_snoozed {
                " "
                @if data.show_snoozed {
                    a href="/inbox" { "Hide snoozed" }
                } @else {
                    a href="/inbox?snoozed=1" { "Show snoozed (" (inbox.snoozed) ")" }
                }
            }
        }
        @if leads_nothing {
            p.hint { "You lead no year group or house yet: ask an administrator to add yours." }
        }
        @for item in &inbox.items {
            (render_card(item, data, csrf))
        }
        @if inbox.is_truncated(data.show_snoozed) {
            p.muted { "The " (inbox.items.len()) " most urgent are listed; decide these to see the rest." }
        }
    }
}
