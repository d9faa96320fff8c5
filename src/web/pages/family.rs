//! The family pages: what a parent, carer, coach or outside professional opens from their
//! own link (`/family/{token}`), with no account. A meeting's guest sees what it is for, when,
//! where and who will be there, and answers; a plan's reader reads it and says so; whoever
//! delivers sessions at home records them. Phone first, the school's name and contact instead
//! of the staff navigation, never indexed, cached or sent on as a referrer.
//!
//! A token that does not work (unknown, over or revoked) answers the same 404 page, which does
//! not say which; unknown tokens count against the client's address like failed sign-ins.
//! Forms carry a CSRF token derived from the link (there is no session to hold one).

use actix_web::http::{header, StatusCode};
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use chrono::{NaiveDateTime, Utc};
use maud::{html, Markup, DOCTYPE};
use subtle::ConstantTimeEq;

use super::form::{Fields, Form, Problem};
use super::form_page::PageResult;
use crate::accounts::hash_secret;
use crate::db::family::{
    self, BlockPage, FamilyLinkRow, Found, MeetingPage, PlanPage, SchoolContact,
};
use crate::db::notices::NoticeContext;
use crate::db::{from_db_time, DbConnection};
use crate::domain::family::{FamilyPurpose, GuestResponse, MAX_FAMILY_NOTE_CHARS};
use crate::domain::family_words::{
    guest_role_words, meeting_purpose, staff_role_words, HOME_SESSIONS_INTRO, PLAN_INTRO,
};
use crate::domain::programme::{SessionOutcome, MAX_RECORDED_MINUTES, MIN_RECORDED_MINUTES};
use crate::domain::words::MeetingKind;
use crate::domain::{Level, ProgrammeBlock, SCHOOL_TZ};
use crate::error::{Error, Result};
use crate::web::auth::CSRF_FIELD;
use crate::web::error::PageError;
use crate::web::throttle::Attempt;
use crate::web::AppState;

/// The CSRF token of a link's forms: derived from the link, so only a page opened from it
/// can post to it.
fn link_csrf(token: &str) -> String {
    hash_secret(&format!("family-form:{token}"))
}

/// A family page: never cached, never indexed, never sent on as a referrer.
fn private(status: StatusCode, markup: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .insert_header(("X-Robots-Tag", "noindex"))
        .body(markup.into_string())
}

/// The family layout: the school's name (and logo) at the top, no staff navigation.
fn layout(title: &str, school: Option<&SchoolContact>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en-GB" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex";
                meta name="referrer" content="no-referrer";
                title { (title) }
                link rel="stylesheet" href="/static/style.css";
            }
            body.family {
                header.top {
                    @if let Some(school) = school {
                        @if let Some(logo) = school.logo_url.as_deref().filter(|l| l.starts_with("https://")) {
                            img src=(logo) alt="" height="32";
                        }
                        span.brand { (school.name) }
                    } @else {
                        span.brand { "Steadfast" }
                    }
                }
                main.narrow { (body) }
            }
        }
    }
}

/// The one answer for a link that does not work, whatever the reason.
fn gone() -> HttpResponse {
    private(
        StatusCode::NOT_FOUND,
        layout(
            "This link no longer works",
            None,
            html! {
                h1 { "This link no longer works" }
                p { "The link you followed has ended or is not complete. Links from the school stop working once what they were for is over." }
                p { "If you need to, please contact the school that sent it to you: by phone or by replying to a member of staff you know. They can send you a new link." }
            },
        ),
    )
}

/// Opens a link for a request: waits out a run of guesses, counts an unknown token as one.
async fn open(
    state: &AppState,
    request: &HttpRequest,
    token: &str,
) -> Result<Option<FamilyLinkRow>> {
    let attempt = Attempt::family_link(request);
    let now = Utc::now();
    attempt.refuse_if_waiting(&state.db, now).await?;
    let owned = token.to_string();
    let found = state
        .db
        .transaction(move |conn| family::find(conn, &owned, now))
        .await?;
    match found {
        Found::Works(link, _) => Ok(Some(*link)),
        Found::Ended => Ok(None),
        Found::Unknown => {
            attempt.failed(&state.db, now).await?;
            Ok(None)
        }
    }
}

/// What a link's page shows.
enum Shown {
    Meeting(Box<MeetingPage>),
    Plan(Box<PlanPage>),
    Block(Box<BlockPage>),
}

fn load(conn: &mut DbConnection, link: FamilyLinkRow) -> Result<Shown> {
    let purpose = FamilyPurpose::parse(&link.purpose).ok_or(Error::NotFound("link"))?;
    Ok(match purpose {
        FamilyPurpose::Meeting => Shown::Meeting(Box::new(family::meeting_page(conn, link)?)),
        FamilyPurpose::Plan => Shown::Plan(Box::new(family::plan_page(conn, link)?)),
        FamilyPurpose::HomeBlock => {
            Shown::Block(Box::new(family::block_page(conn, link, Utc::now())?))
        }
    })
}

async fn page(
    state: &AppState,
    link: FamilyLinkRow,
    token: &str,
    status: StatusCode,
    form: &Form,
    notice: Option<&str>,
) -> PageResult {
    let shown = state.db.transaction(move |conn| load(conn, link)).await?;
    let csrf = link_csrf(token);
    let (title, school, body) = match &shown {
        Shown::Meeting(data) => (
            "Your invitation",
            &data.school,
            meeting_body(data, token, &csrf, form, notice),
        ),
        Shown::Plan(data) => (
            "The plan",
            &data.school,
            plan_body(data, token, &csrf, notice),
        ),
        Shown::Block(data) => (
            "Sessions at home",
            &data.school,
            block_body(data, token, &csrf, form, notice),
        ),
    };
    let mut response = private(status, layout(title, Some(school), body));
    if let Some(policy) = school.logo_url.as_deref().and_then(policy_with_logo) {
        if let Ok(value) = header::HeaderValue::from_str(&policy) {
            response
                .headers_mut()
                .insert(header::CONTENT_SECURITY_POLICY, value);
        }
    }
    Ok(response)
}

/// The content security policy with the school's logo's site allowed for images (the logo is
/// the only thing a family page loads from elsewhere).
fn policy_with_logo(logo_url: &str) -> Option<String> {
    let parsed = url::Url::parse(logo_url).ok()?;
    if parsed.scheme() != "https" {
        return None;
    }
    let origin = parsed.origin().ascii_serialization();
    Some(crate::web::CONTENT_SECURITY_POLICY.replace(
        "img-src 'self' data:",
        &format!("img-src 'self' data: {origin}"),
    ))
}

/// `GET /family/{token}`: the link's page, or the page saying it no longer works.
pub async fn show(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> PageResult {
    let token = path.into_inner();
    let Some(link) = open(&state, &request, &token).await? else {
        return Ok(gone());
    };
    let query = Fields::from_query(request.query_string());
    let notice = match query.get("done") {
        Some("answer") => Some("Thank you: the school has your answer."),
        Some("read") => Some("Thank you: the school can see you have read the plan."),
        Some("session") => Some("Thank you: the session is recorded."),
        _ => None,
    };
    page(
        &state,
        link,
        &token,
        StatusCode::OK,
        &Form::default(),
        notice,
    )
    .await
}

/// The body of a posted form, at most the size every form may be (413 beyond, with why).
async fn body_of(
    request: &HttpRequest,
    payload: web::Payload,
) -> std::result::Result<web::Bytes, PageError> {
    let mut payload = payload.into_inner();
    web::Bytes::from_request(request, &mut payload)
        .await
        .map_err(|e| PageError(crate::web::error::body_error(&e, "the form")))
}

/// Reads a posted form and checks its CSRF token against the link's.
fn read_form(token: &str, body: &[u8]) -> std::result::Result<Fields, PageError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|_| Error::bad_request("the form could not be read"))?;
    let fields = Fields::new(pairs);
    let expected = link_csrf(token);
    let sent = fields.raw(CSRF_FIELD);
    if !bool::from(expected.as_bytes().ct_eq(sent.as_bytes())) {
        return Err(PageError(Error::Forbidden(
            "this form has expired or did not come from this page: go back, reload the page and try again"
                .into(),
        )));
    }
    Ok(fields)
}

/// Sends the browser back to the link's page, or shows it again with the problem.
async fn after(
    state: &AppState,
    link: FamilyLinkRow,
    token: &str,
    typed: Fields,
    outcome: Result<&'static str>,
) -> PageResult {
    match outcome {
        Ok(done) => Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, format!("/family/{token}?done={done}")))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header(("Referrer-Policy", "no-referrer"))
            .finish()),
        Err(Error::NotFound(_)) => Ok(gone()),
        Err(error) => {
            let (status, problem) = Problem::of_refusal(error)?;
            let form = Form::again(typed, problem);
            page(state, link, token, status, &form, None).await
        }
    }
}

/// `POST /family/{token}/answer`: a guest accepts, declines or asks for another time.
pub async fn answer(
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> PageResult {
    let token = path.into_inner();
    let body = body_of(&request, payload).await?;
    let Some(link) = open(&state, &request, &token).await? else {
        return Ok(gone());
    };
    let fields = read_form(&token, &body)?;
    let context = NoticeContext::from_settings(&state.settings);
    let (owned, typed) = (token.clone(), fields.clone());
    let outcome = state
        .db
        .write(move |conn| {
            family::answer_invitation(
                conn,
                &context,
                &owned,
                typed.raw("response"),
                typed.get("note"),
                Utc::now(),
            )
        })
        .await
        .map(|_| "answer");
    after(&state, link, &token, fields, outcome).await
}

/// `POST /family/{token}/read`: "I have read this plan".
pub async fn read(
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> PageResult {
    let token = path.into_inner();
    let body = body_of(&request, payload).await?;
    let Some(link) = open(&state, &request, &token).await? else {
        return Ok(gone());
    };
    let fields = read_form(&token, &body)?;
    let owned = token.clone();
    let outcome = state
        .db
        .write(move |conn| family::acknowledge_plan(conn, &owned, Utc::now()))
        .await
        .map(|_| "read");
    after(&state, link, &token, fields, outcome).await
}

/// `POST /family/{token}/sessions/{id}`: a session at home recorded.
pub async fn record(
    request: HttpRequest,
    path: web::Path<(String, i64)>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> PageResult {
    let (token, session_id) = path.into_inner();
    let body = body_of(&request, payload).await?;
    let Some(link) = open(&state, &request, &token).await? else {
        return Ok(gone());
    };
    let fields = read_form(&token, &body)?;
    let name = format!("session-{session_id}");
    let minutes = match fields
        .get("minutes")
        .map(str::trim)
        .filter(|m| !m.is_empty())
    {
        None => Ok(None),
        Some(raw) => raw.parse::<u32>().map(Some).map_err(|_| {
            Error::invalid("minutes", "minutes: type the number of minutes, such as 30")
        }),
    };
    let (owned, typed) = (token.clone(), fields.clone());
    let outcome = match minutes {
        Err(e) => Err(e),
        Ok(minutes) => state
            .db
            .write(move |conn| {
                family::record_home_session(
                    conn,
                    &owned,
                    session_id,
                    typed.raw("outcome"),
                    minutes,
                    typed.get("note"),
                    Utc::now(),
                )
            })
            .await
            .map(|_| "session"),
    };
    match outcome {
        Ok(done) => after(&state, link, &token, fields, Ok(done)).await,
        Err(Error::NotFound(_)) => Ok(gone()),
        Err(error) => {
            let (status, problem) = Problem::of_refusal(error)?;
            let form = Form::again(fields, problem).sent_as(Some(name));
            page(&state, link, &token, status, &form, None).await
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------------------------

fn when(at: NaiveDateTime) -> String {
    from_db_time(at)
        .with_timezone(&SCHOOL_TZ)
        .format("%A %-d %B %Y at %H:%M")
        .to_string()
}

fn contact(school: &SchoolContact, organiser: Option<&str>) -> Markup {
    html! {
        section.card {
            h2 { "Questions?" }
            @if let Some(name) = organiser {
                p { "Your contact at the school is " strong { (name) } "." }
            }
            @if !school.phone.is_empty() {
                p { "Phone: " a href={ "tel:" (school.phone.replace(' ', "")) } { (school.phone) } }
            }
            @if !school.email.is_empty() {
                p { "Email: " a href={ "mailto:" (school.email) } { (school.email) } }
            }
            @if !school.address.is_empty() {
                p { @for (i, line) in school.address.lines().enumerate() {
                    @if i > 0 { br; } (line)
                } }
            }
            @if school.phone.is_empty() && school.email.is_empty() {
                p { "Please contact " (school.name) " if you have any questions." }
            }
        }
    }
}

fn notice_line(notice: Option<&str>) -> Markup {
    html! { @if let Some(text) = notice { p.notice role="status" { (text) } } }
}

fn meeting_body(
    data: &MeetingPage,
    token: &str,
    csrf: &str,
    form: &Form,
    notice: Option<&str>,
) -> Markup {
    let meeting = &data.meeting;
    let level = Level::from_number(i64::from(meeting.level)).unwrap_or(Level::Time);
    let kind = match level {
        Level::Programme => MeetingKind::BlockReview(ProgrammeBlock::TwoWeek),
        _ => MeetingKind::of_stored(level, &meeting.purpose),
    };
    let child = &data.pupil_given_name;
    let answered = data
        .guest
        .response
        .as_deref()
        .and_then(|r| GuestResponse::parse(r).ok());
    let chosen = form
        .values
        .get("response")
        .map(str::to_string)
        .or_else(|| answered.map(|a| a.as_str().to_string()))
        .unwrap_or_default();
    let note = form
        .values
        .get("note")
        .map(str::to_string)
        .or_else(|| data.guest.response_note.clone())
        .unwrap_or_default();
    html! {
        h1 { "A meeting about " (child) }
        (notice_line(notice))
        p { "Hello " (data.guest.name) "," }
        p { (meeting_purpose(kind, child)) }
        section.card {
            h2 { "When and where" }
            dl.facts {
                dt { "When" }
                dd { @match meeting.starts_at {
                    Some(at) => { (when(at)) " (UK time)" @if let Some(minutes) = meeting.duration_minutes { ", for about " (minutes) " minutes" } }
                    None => { "The time is still to be agreed." }
                } }
                dt { "Where" }
                dd { (meeting.location.clone().unwrap_or_else(|| "To be confirmed".into())) }
            }
        }
        section.card {
            h2 { "Who will be there" }
            ul.list {
                @for person in &data.staff {
                    li { strong { (person.name) } br; span.muted { (staff_role_words(&person.roles)) } }
                }
                li { strong { (data.guest.name) } " (you)" br; span.muted { (guest_role_words(&data.guest.role)) } }
                @for name in &data.other_guests {
                    li { strong { (name) } }
                }
            }
        }
        section.card {
            h2 { "Can you come?" }
            @if let Some(answer) = answered {
                p { (answer.family_words()) " You can change your answer below." }
            }
            @if let Some(problem) = form.problem().filter(|p| p.field.is_none()) {
                p.error role="alert" { (problem.message) }
            }
            form.stack method="post" action={ "/family/" (token) "/answer" } {
                input type="hidden" name=(CSRF_FIELD) value=(csrf);
                fieldset {
                    legend { "Your answer" }
                    @for (value, label) in [("accepted", "Yes, I will come"), ("declined", "No, I cannot come"), ("another_time", "Please can we find another time")] {
                        label.choice {
                            input type="radio" name="response" value=(value) checked[chosen == value] required;
                            " " (label)
                        }
                    }
                    (form.problem_at("response"))
                }
                label for="note" { "A short note (needed if you ask for another time)" }
                textarea #note name="note" rows="3" maxlength=(MAX_FAMILY_NOTE_CHARS) aria-describedby="error-note" { (note) }
                (form.problem_at("note"))
                button.primary type="submit" { "Send my answer" }
            }
        }
        (contact(&data.school, data.organiser.as_deref()))
    }
}

fn plan_body(data: &PlanPage, token: &str, csrf: &str, notice: Option<&str>) -> Markup {
    let child = &data.pupil_given_name;
    html! {
        h1 { (child) "'s plan" }
        (notice_line(notice))
        p { "Hello " (data.link.name) "," }
        p { (PLAN_INTRO) }
        section.card {
            h2 { "The goals" }
            ol {
                @for goal in &data.goals {
                    li { (goal.text) br; span.muted { "We will know it is reached when: " (goal.success_criterion) } }
                }
            }
        }
        @if !data.pathway.trim().is_empty() {
            section.card {
                h2 { "Becoming more independent" }
                p { (data.pathway) }
            }
        }
        section.card {
            h2 { "What school and home will do" }
            ul.list {
                @for step in &data.steps {
                    li { (step.what) br; span.muted { "Who: " (step.owner) " · by " (step.by_when.format("%A %-d %B")) } }
                }
            }
        }
        p { "We will look at the plan again together by " (data.review_on.format("%A %-d %B %Y")) "." }
        @match data.link.acknowledged_at {
            Some(at) => { p.notice { "You said you have read this plan on " (from_db_time(at).with_timezone(&SCHOOL_TZ).format("%-d %B %Y")) ". Thank you." } }
            None => {
                form.stack method="post" action={ "/family/" (token) "/read" } {
                    input type="hidden" name=(CSRF_FIELD) value=(csrf);
                    button.primary type="submit" { "I have read this plan" }
                }
            }
        }
        (contact(&data.school, None))
    }
}

fn block_body(
    data: &BlockPage,
    token: &str,
    csrf: &str,
    form: &Form,
    notice: Option<&str>,
) -> Markup {
    let child = &data.pupil_given_name;
    html! {
        h1 { (child) "'s sessions at home" }
        (notice_line(notice))
        p { "Hello " (data.link.name) "," }
        p { (HOME_SESSIONS_INTRO) }
        p.muted { "Each session is planned for about " (data.block.minutes) " minutes." }
        @if data.sessions.is_empty() {
            p { "No session is due yet. The first is on " (data.block.starts_on.format("%A %-d %B")) "." }
        }
        @for session in data.sessions.iter().rev() {
            @let name = format!("session-{}", session.id);
            @let sent = form.is_sent(&name);
            @let value = |field: &str, stored: Option<String>| -> String {
                if sent { form.values.raw(field).to_string() } else { stored.unwrap_or_default() }
            };
            @let outcome = value("outcome", session.outcome.clone());
            @let minutes = value("minutes", session.minutes.map(|m| m.to_string()));
            @let note = value("note", session.note.clone().or(session.reason.clone()));
            section.card id=(name) {
                h2 { (session.on_date.format("%A %-d %B")) }
                @if let Some(done) = session.outcome.as_deref().and_then(|o| SessionOutcome::parse(o).ok()) {
                    p.muted { "Recorded: " (done.title()) @if let Some(m) = session.minutes { ", " (m) " minutes" } }
                }
                form.stack method="post" action={ "/family/" (token) "/sessions/" (session.id) } {
                    input type="hidden" name=(CSRF_FIELD) value=(csrf);
                    fieldset {
                        legend { "Did the session take place?" }
                        label.choice { input type="radio" name="outcome" value="delivered" checked[outcome == "delivered"] required; " Yes" }
                        label.choice { input type="radio" name="outcome" value="not_delivered" checked[outcome == "not_delivered"]; " No" }
                        @if sent { (form.problem_in(&name, "outcome")) }
                    }
                    label for={ (name) "-minutes" } { "How many minutes (if it took place)" }
                    input id={ (name) "-minutes" } type="number" name="minutes" inputmode="numeric" min=(MIN_RECORDED_MINUTES) max=(MAX_RECORDED_MINUTES) value=(minutes);
                    @if sent { (form.problem_in(&name, "minutes")) }
                    label for={ (name) "-note" } { "A short note, or why it did not take place" }
                    textarea id={ (name) "-note" } name="note" rows="2" maxlength=(MAX_FAMILY_NOTE_CHARS) { (note) }
                    @if sent { (form.problem_in(&name, "note")) (form.problem_in(&name, "reason")) }
                    button.primary type="submit" { "Save" }
                }
            }
        }
        (contact(&data.school, None))
    }
}
