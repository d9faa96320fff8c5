//! The pastoral lead's inbox (`/inbox`, "Decisions"): the open suggestions a member may
//! decide, most urgent first, one card each with the reason in plain words, the evidence
//! linked to the pupil's timeline, and three forms: accept (with an optional note), decline
//! (with a required reason) and snooze to a date.
//!
//! After a decision the inbox shows what changed, read back from the records: the pupil,
//! their move, and the meeting created when the new level needs one. A problem with a form
//! shows the inbox again with the message next to that card's field; a suggestion decided
//! meanwhile shows the inbox with a conflict message and changes nothing.

use actix_web::web;
use chrono::{Days, NaiveDate, Utc};
use maud::{html, Markup};

use super::form::{local, Fields, Form, Problem};
use super::form_page::{FormPage, PageResult, Visit};
use super::layout::{csrf_field, level_badge};
use crate::db::decisions::{self, MAX_REASON_CHARS};
use crate::db::evaluation::{self, SchoolRules};
use crate::db::inbox::{self, Inbox, InboxItem, InboxQuery, Outcome, INBOX_LIMIT, INBOX_ROLES};
use crate::db::models::LevelChangeRow;
use crate::db::notices::NoticeContext;
use crate::db::staff::StaffMember;
use crate::db::DbConnection;
use crate::domain::calendar::SchoolCalendar;
use crate::domain::words::{self, level_of, MeetingKind};
use crate::domain::{Move, Role};
use crate::error::{Error, Result};
use crate::web::auth::{require_role, CsrfForm};

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

/// What the inbox loads by.
#[derive(Debug, Clone, Copy)]
pub enum InboxKey {
    /// The list, with the snoozed suggestions when asked, and the decision just made (its
    /// suggestion and meeting) to confirm.
    Listed {
        show_snoozed: bool,
        decided: Option<(i64, Option<i64>)>,
    },
    /// The list after a form on the card of suggestion `id` was refused: its card is listed
    /// (with the snoozed ones when it is snoozed), and what the records say of it.
    Refused(i64),
}

/// Everything the inbox page shows, read in one transaction.
pub struct InboxPage {
    inbox: Inbox,
    rules: SchoolRules,
    today: NaiveDate,
    show_snoozed: bool,
    /// The member leads no year group or house, and decides nothing as SENDCO or SLT.
    leads_nothing: bool,
    /// What the decision just made changed, in sentences (none when nothing was decided).
    done: Vec<String>,
    /// The suggestion whose card's form was refused, as the records now say it is.
    refused: Option<Outcome>,
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

/// Why a decision was refused (`message`), naming the pupil and, for a suggestion decided
/// meanwhile, who decided it and when.
fn refusal_sentence(refused: Option<&Outcome>, message: &str) -> String {
    let Some(outcome) = refused else {
        return format!("Nothing was changed: {message}.");
    };
    let mut said = format!("{}: {message}.", outcome.pupil.full_name());
    if !said.contains("nothing was changed") {
        said.push_str(" Nothing was changed.");
    }
    if let (Some(s), Some(by)) = (&outcome.suggestion, &outcome.decided_by) {
        if let Some(at) = s.decided_at {
            said.push_str(&format!(
                " It was {} by {by} on {}.",
                s.status,
                local(crate::db::from_db_time(at))
            ));
        }
    }
    said
}

/// What the records say of suggestion `id` (with meeting `meeting`, made by deciding it),
/// when `member` may decide it.
fn outcome_for(
    conn: &mut DbConnection,
    member: &StaffMember,
    id: i64,
    meeting: Option<i64>,
) -> Result<Option<Outcome>> {
    Ok(
        inbox::suggestion_outcome(conn, member.school_id, id, meeting)?.filter(|o| {
            o.suggestion.as_ref().is_some_and(|s| {
                decisions::may_decide(
                    member,
                    o.pupil.place(),
                    level_of(s.from_level),
                    level_of(s.to_level),
                )
            })
        }),
    )
}

impl InboxPage {
    fn list(conn: &mut DbConnection, member: &StaffMember, show_snoozed: bool) -> Result<Self> {
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
        Ok(InboxPage {
            inbox,
            rules,
            today,
            show_snoozed,
            leads_nothing: member.has_role(Role::PastoralLead)
                && !member.leads_anyone()
                && !member.has_any_role(&[Role::Sendco, Role::Slt]),
            done: Vec::new(),
            refused: None,
        })
    }

    /// Whether the card of suggestion `id` is on the page.
    fn lists(&self, id: i64) -> bool {
        self.inbox.items.iter().any(|i| i.suggestion.id == id)
    }
}

impl FormPage for InboxPage {
    type Key = InboxKey;
    const TITLE: &'static str = "Decisions";

    fn load(conn: &mut DbConnection, member: &StaffMember, key: InboxKey) -> Result<Self> {
        require_role(member, &INBOX_ROLES)?;
        match key {
            InboxKey::Listed {
                show_snoozed,
                decided,
            } => {
                let mut data = InboxPage::list(conn, member, show_snoozed)?;
                if let Some((id, meeting)) = decided {
                    data.done = outcome_for(conn, member, id, meeting)?
                        .map(|o| done_sentences(&o))
                        .unwrap_or_default();
                }
                Ok(data)
            }
            InboxKey::Refused(id) => {
                let mut data = InboxPage::list(conn, member, false)?;
                if !data.lists(id) && data.inbox.snoozed > 0 {
                    // A snoozed card, decided from the list of snoozed ones: list them again.
                    data = InboxPage::list(conn, member, true)?;
                }
                data.refused = outcome_for(conn, member, id, None)?;
                Ok(data)
            }
        }
    }

    fn decisions_waiting(&self) -> Option<i64> {
        Some(self.inbox.open)
    }

    fn render(&self, form: &Form, _notice: Option<&str>, csrf: &str) -> Markup {
        render(self, form, csrf)
    }
}

fn id_of(raw: Option<&str>) -> Option<i64> {
    raw.and_then(|v| v.trim().parse().ok())
}

/// `GET /inbox`: the open suggestions the member may decide; `?snoozed=1` lists the snoozed
/// ones too.
pub async fn show(visit: Visit) -> PageResult {
    let query = &visit.query;
    let key = InboxKey::Listed {
        show_snoozed: query.get("snoozed") == Some("1"),
        decided: id_of(query.get("decided")).map(|id| (id, id_of(query.get("meeting")))),
    };
    visit.show::<InboxPage>(key).await
}

// ---------------------------------------------------------------------------------------
// Deciding

/// The three forms on a card, each named on the page with the card's suggestion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CardForm {
    /// Accept, with an optional note.
    Accept,
    /// Decline, with a required reason.
    Decline,
    /// Snooze until a date.
    Snooze,
}

impl CardForm {
    /// The form's name on the page, for the card of suggestion `id`.
    fn name(self, id: i64) -> String {
        let what = match self {
            CardForm::Accept => "accept",
            CardForm::Decline => "decline",
            CardForm::Snooze => "snooze",
        };
        format!("{what}-{id}")
    }
}

/// Decides on the suggestion in `path` with the form `card` sent from its card: back to the
/// inbox with its confirmation; the inbox again with the problem next to the card's field,
/// or with why nothing was changed (409, 422) at the top; a page for anything else (403, 404).
async fn decide_card<T, F>(
    visit: Visit,
    path: &str,
    card: CardForm,
    typed: Fields,
    read: std::result::Result<T, Problem>,
    decide: F,
) -> PageResult
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection, &StaffMember, &NoticeContext, i64, T) -> Result<Option<i64>>
        + Send
        + 'static,
{
    require_role(&visit.member, &INBOX_ROLES)?;
    let id: i64 = path
        .trim()
        .parse()
        .map_err(|_| Error::NotFound("suggestion"))?;
    visit
        .submit_to::<InboxPage, _, _>(
            InboxKey::Refused(id),
            Some(card.name(id)),
            typed,
            read,
            move |conn, by, context, asked| {
                let meeting = decide(conn, by, context, id, asked)?;
                let mut to = format!("/inbox?decided={id}");
                if let Some(meeting) = meeting {
                    to.push_str(&format!("&meeting={meeting}"));
                }
                Ok(to)
            },
        )
        .await
}

/// `POST /inbox/{id}/accept`: accepts a suggestion, with an optional note. The pupil moves,
/// and the meeting the new level needs is created as due.
pub async fn accept(
    visit: Visit,
    path: web::Path<String>,
    CsrfForm(typed): CsrfForm<Fields>,
) -> PageResult {
    let note = typed.get("note").map(str::to_string);
    decide_card(
        visit,
        &path,
        CardForm::Accept,
        typed,
        Ok(note),
        |conn, by, context, id, note| {
            let rules = evaluation::load_rules(conn, by.school_id)?;
            decisions::accept(conn, by, id, note.as_deref(), &rules, context, Utc::now())
                .map(|decision| decision.meeting.map(|m| m.id))
        },
    )
    .await
}

/// `POST /inbox/{id}/decline`: declines a suggestion; the reason is required.
pub async fn decline(
    visit: Visit,
    path: web::Path<String>,
    CsrfForm(typed): CsrfForm<Fields>,
) -> PageResult {
    let reason = typed.raw("reason").to_string();
    decide_card(
        visit,
        &path,
        CardForm::Decline,
        typed,
        Ok(reason),
        |conn, by, _, id, reason| {
            decisions::decline(conn, by, id, &reason, Utc::now()).map(|_| None)
        },
    )
    .await
}

/// `POST /inbox/{id}/snooze`: puts a suggestion aside until a later date.
pub async fn snooze(
    visit: Visit,
    path: web::Path<String>,
    CsrfForm(typed): CsrfForm<Fields>,
) -> PageResult {
    let until = match typed.get("until") {
        None => Err(Problem::at("until", "choose a date to snooze until")),
        Some(raw) => NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| {
            Problem::at(
                "until",
                format!("until must be a date as YYYY-MM-DD, got {raw:?}"),
            )
        }),
    };
    decide_card(
        visit,
        &path,
        CardForm::Snooze,
        typed,
        until,
        |conn, by, _, id, until| {
            let rules = evaluation::load_rules(conn, by.school_id)?;
            decisions::snooze(conn, by, id, until, &rules, Utc::now()).map(|_| None)
        },
    )
    .await
}

// ---------------------------------------------------------------------------------------
// Rendering

/// The date a snooze is suggested for: a week today.
fn snooze_default(today: NaiveDate) -> NaiveDate {
    today.checked_add_days(Days::new(7)).unwrap_or(today)
}

/// The field of each card form where its problem is shown.
const CARD_FIELDS: [(CardForm, &str); 3] = [
    (CardForm::Accept, "note"),
    (CardForm::Decline, "reason"),
    (CardForm::Snooze, "until"),
];

/// The form of `form`'s sent card whose problem is shown at its field, when it is one.
fn problem_at_card(form: &Form, data: &InboxPage) -> Option<(i64, CardForm)> {
    let problem = form.problem()?;
    data.inbox.items.iter().find_map(|item| {
        let id = item.suggestion.id;
        CARD_FIELDS
            .into_iter()
            .find(|(card, field)| form.is_sent(&card.name(id)) && problem.is_about(field))
            .map(|(card, _)| (id, card))
    })
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

fn render_card(item: &InboxItem, data: &InboxPage, form: &Form, csrf: &str) -> Markup {
    let s = &item.suggestion;
    let pupil = &item.pupil;
    let [accept, decline, snooze] =
        [CardForm::Accept, CardForm::Decline, CardForm::Snooze].map(|card| card.name(s.id));
    let timeline = format!("/pupils/{}", pupil.id);
    let tomorrow = data.today.succ_opt().unwrap_or(data.today);
    let latest = data
        .rules
        .policy
        .latest_snooze(&data.rules.calendar, data.today);
    let default_until = snooze_default(data.today).min(latest).to_string();
    let slot = |name: &str, field: &str| format!("error-{name}-{field}");
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
                        aria-describedby=(slot(&accept, "note")) {
                        (form.value_in(&accept, "note", ""))
                    }
                    (form.problem_in(&accept, "note"))
                    @if let Some(hint) = accept_hint(item, &data.rules) { p.hint { (hint) } }
                    button.primary type="submit" { (Move::between(item.from, item.to).accept_action()) }
                }
                details.decline open[form.problem_of(&decline).is_some()] {
                    summary { "Decline" }
                    form.stack method="post" action={ "/inbox/" (s.id) "/decline" } {
                        (csrf_field(csrf))
                        label for={ "reason-" (s.id) } { "Why not? (required)" }
                        textarea id={ "reason-" (s.id) } name="reason" rows="2" required maxlength=(MAX_REASON_CHARS)
                            aria-describedby=(slot(&decline, "reason")) {
                            (form.value_in(&decline, "reason", ""))
                        }
                        (form.problem_in(&decline, "reason"))
                        button type="submit" { "Decline" }
                    }
                }
                details.snooze open[form.problem_of(&snooze).is_some()] {
                    summary { "Snooze" }
                    form.stack method="post" action={ "/inbox/" (s.id) "/snooze" } {
                        (csrf_field(csrf))
                        label for={ "until-" (s.id) } { "Until" }
                        input id={ "until-" (s.id) } type="date" name="until" required
                            min=(tomorrow.to_string())
                            max=(latest.to_string())
                            value=(form.value_in(&snooze, "until", &default_until))
                            aria-describedby=(slot(&snooze, "until"));
                        (form.problem_in(&snooze, "until"))
                        button type="submit" { "Snooze" }
                    }
                }
            }
        }
    }
}

fn render(data: &InboxPage, form: &Form, csrf: &str) -> Markup {
    let inbox = &data.inbox;
    let refused = form
        .problem()
        .filter(|_| problem_at_card(form, data).is_none())
        .map(|problem| refusal_sentence(data.refused.as_ref(), &problem.message));
    html! {
        h1 { "Decisions" }
        @if !data.done.is_empty() {
            div.notice #decided role="status" {
                @for sentence in &data.done { p { (sentence) } }
            }
        }
        @if let Some(message) = refused {
            p.error #refused role="alert" { (message) }
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
        @if data.leads_nothing {
            p.hint { "You lead no year group or house yet: ask an administrator to add yours." }
        }
        @for item in &inbox.items {
            (render_card(item, data, form, csrf))
        }
        @if inbox.is_truncated(data.show_snoozed) {
            p.muted { "The " (inbox.items.len()) " most urgent are listed; decide these to see the rest." }
        }
    }
}
