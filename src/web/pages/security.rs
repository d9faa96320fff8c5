//! `/account/security`: a person's second factor for password sign-in. They set up an
//! authenticator app from a QR code (an SVG drawn here) or its key typed by hand, and turn it
//! on by typing its current code; ten single-use recovery codes are shown once then, and can
//! be made anew; turning it off takes a current code (or a recovery code).

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use maud::{html, Markup, PreEscaped};
use rand::RngCore;

use super::form::{
    field_problem, html_response, local, problem_summary, see_other, Fields, Problem,
};
use super::layout::{csrf_field, page};
use super::second_factor::{set_must_enrol, SECURITY_PAGE};
use super::with_viewer;
use crate::db::from_db_time;
use crate::db::second_factor::{self, FactorRow};
use crate::db::staff::StaffMember;
use crate::domain::second_factor::{
    display_recovery_code, display_secret, recovery_code, Authenticator, RECOVERY_CODE_COUNT,
    SECRET_BYTES,
};
use crate::error::Error;
use crate::web::auth::{CsrfForm, SignedIn};
use crate::web::error::PageError;
use crate::web::AppState;

/// What the page knows of the member's second factor.
struct Status {
    factor: Option<FactorRow>,
    recovery_left: i64,
    /// Whether their school requires one of their role.
    required: bool,
}

async fn status(state: &AppState, member: &StaffMember) -> Result<Status, Error> {
    let (school_id, staff_id) = (member.school_id, member.id);
    let roles = member.roles.clone();
    state
        .db
        .transaction(move |conn| {
            let required = second_factor::required_roles(conn, school_id)?;
            Ok(Status {
                factor: second_factor::find(conn, staff_id)?,
                recovery_left: second_factor::recovery_codes_left(conn, staff_id)?,
                required: roles.iter().any(|r| required.contains(r)),
            })
        })
        .await
}

/// The QR code of an `otpauth://` address, as an SVG element to put in the page.
fn qr_svg(url: &str) -> Result<String, Error> {
    let code = qrcode::QrCode::new(url.as_bytes())
        .map_err(|e| Error::Internal(format!("drawing the QR code: {e}")))?;
    let svg = code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(220, 220)
        .build();
    // Drop the XML declaration: the element goes inside the page.
    let element = svg.find("<svg").map_or(svg.as_str(), |at| &svg[at..]);
    Ok(element.replacen(
        "<svg ",
        r#"<svg role="img" aria-label="QR code to scan with your authenticator app" "#,
        1,
    ))
}

/// Where a member is, and what to show.
enum View {
    /// No authenticator: why one helps, and the button to set one up.
    Off,
    /// An authenticator awaiting its first code: the QR code, the key, the box for the code.
    Enrolling { qr: String, key: String },
    /// On: when, recovery codes left, new recovery codes, turning it off.
    On { since: String, recovery_left: i64 },
}

fn view(status: &Status, member: &StaffMember) -> Result<View, Error> {
    match &status.factor {
        None => Ok(View::Off),
        Some(factor) if factor.is_on() => Ok(View::On {
            since: factor
                .confirmed_at
                .map(|at| local(from_db_time(at)))
                .unwrap_or_default(),
            recovery_left: status.recovery_left,
        }),
        Some(factor) => {
            let app = Authenticator::from_base32(&factor.secret, &member.email)
                .map_err(|e| Error::Internal(format!("a stored second factor: {e}")))?;
            Ok(View::Enrolling {
                qr: qr_svg(&app.otpauth_url())?,
                key: display_secret(&app.secret_base32()),
            })
        }
    }
}

fn render(
    viewer: &super::layout::Viewer<'_>,
    status: &Status,
    view: &View,
    notice: Option<&str>,
    problem: Option<&Problem>,
) -> Markup {
    let csrf = viewer.csrf;
    page(
        "Sign-in security",
        viewer,
        html! {
            h1 { "Sign-in security" }
            @if let Some(notice) = notice { p.notice role="status" { (notice) } }
            @if status.required && !matches!(view, View::On { .. }) {
                p.notice role="alert" { "Your school asks everyone with your role to confirm each password sign-in with a code from an authenticator app. Set it up here before you carry on." }
            }
            @match view {
                View::Off => {
                    p { "With an authenticator app on your phone (such as Microsoft Authenticator, Google Authenticator or 2FAS), signing in with your password also needs the 6-digit code the app shows, so a password alone is not enough to get into your account." }
                    form.stack method="post" action="/account/security/start" {
                        (csrf_field(csrf))
                        button.primary type="submit" { "Set up an authenticator app" }
                    }
                }
                View::Enrolling { qr, key } => {
                    h2 { "1. Add Steadfast to your app" }
                    p { "In your authenticator app, add an account and scan this QR code." }
                    figure.qr { (PreEscaped(qr)) }
                    p { "Cannot scan it? Choose to type a key instead, and type this one (time-based):" }
                    p { code #secret { (key) } }
                    h2 { "2. Type the code it shows" }
                    (problem_summary(problem, &["code"]))
                    form.stack method="post" action="/account/security/confirm" {
                        (csrf_field(csrf))
                        label for="code" { "6-digit code" }
                        input #code type="text" name="code" inputmode="numeric" autocomplete="one-time-code" required;
                        (field_problem(problem, "code"))
                        button.primary type="submit" { "Turn on" }
                    }
                    form method="post" action="/account/security/start" {
                        (csrf_field(csrf))
                        button type="submit" { "Start again with a new key" }
                    }
                }
                View::On { since, recovery_left } => {
                    p { "Your authenticator app is on: signing in with your password also asks for its code. On since " (since) "." }
                    (problem_summary(problem, &["renew_code", "off_code"]))
                    h2 { "Recovery codes" }
                    p { (recovery_left) " of " (RECOVERY_CODE_COUNT) " recovery codes left. Each works once, instead of a code from your app, if you lose your phone." }
                    form.stack method="post" action="/account/security/recovery-codes" {
                        (csrf_field(csrf))
                        label for="renew_code" { "Code from your app" }
                        input #renew_code type="text" name="renew_code" inputmode="numeric" autocomplete="one-time-code" required;
                        (field_problem(problem, "renew_code"))
                        p.hint { "New codes replace all the old ones." }
                        button type="submit" { "Make new recovery codes" }
                    }
                    h2 { "Turn off" }
                    form.stack method="post" action="/account/security/off" {
                        (csrf_field(csrf))
                        label for="off_code" { "Code from your app, or a recovery code" }
                        input #off_code type="text" name="off_code" autocomplete="one-time-code" required;
                        (field_problem(problem, "off_code"))
                        @if status.required {
                            p.hint { "Your school requires it for your role: you will be asked to set it up again." }
                        }
                        button type="submit" { "Turn off" }
                    }
                }
            }
        },
    )
}

/// The page showing new recovery codes, once.
fn recovery_codes_page(
    viewer: &super::layout::Viewer<'_>,
    title: &str,
    codes: &[String],
) -> Markup {
    page(
        title,
        viewer,
        html! {
            h1 { (title) }
            p { "Keep these recovery codes somewhere safe, away from your phone: print them or write them down. Each works once, instead of a code from your app. They are shown only now." }
            ol.recovery-codes #recovery-codes {
                @for code in codes { li { code { (display_recovery_code(code)) } } }
            }
            p { a.button href="/" { "I have kept them: carry on" } }
        },
    )
}

async fn show_page(
    member: &StaffMember,
    session: &Session,
    state: &AppState,
    status_code: StatusCode,
    notice: Option<&str>,
    problem: Option<&Problem>,
) -> Result<HttpResponse, PageError> {
    let status = status(state, member).await?;
    let view = view(&status, member)?;
    if matches!(view, View::On { .. }) {
        // Set up in another session: nothing left to do here.
        set_must_enrol(session, false)?;
    }
    let markup = with_viewer(member, session, |viewer| {
        render(viewer, &status, &view, notice, problem)
    });
    Ok(html_response(status_code, markup))
}

/// `GET /account/security`: the member's second factor and what they can do with it.
pub async fn show(
    SignedIn(member): SignedIn,
    session: Session,
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let query = Fields::from_query(request.query_string());
    let notice = match (query.get("recovery"), query.get("off")) {
        (Some(_), _) => Some("You signed in with a recovery code, which now will not work again. Make new ones below when few are left."),
        (_, Some(_)) => Some("Your authenticator app is off."),
        _ => None,
    };
    show_page(&member, &session, &state, StatusCode::OK, notice, None).await
}

/// `POST /account/security/start`: a new key for an authenticator app, awaiting its first code.
pub async fn start(
    SignedIn(member): SignedIn,
    _form: CsrfForm<Fields>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let mut secret = vec![0u8; SECRET_BYTES];
    rand::rng().fill_bytes(&mut secret);
    let key = Authenticator::new(secret, &member.email)
        .map_err(|e| Error::Internal(format!("a new second factor: {e}")))?
        .secret_base32();
    let (school_id, staff_id) = (member.school_id, member.id);
    state
        .db
        .write(move |conn| second_factor::start(conn, school_id, staff_id, &key, Utc::now()))
        .await?;
    Ok(see_other(SECURITY_PAGE))
}

fn new_recovery_codes() -> Vec<String> {
    (0..RECOVERY_CODE_COUNT)
        .map(|_| {
            let mut random = [0u8; 16];
            rand::rng().fill_bytes(&mut random);
            recovery_code(&random)
        })
        .collect()
}

fn problem(field: &str, message: &str) -> Problem {
    Problem {
        field: Some(field.to_string()),
        message: message.to_string(),
    }
}

/// `POST /account/security/confirm`: turns the new authenticator on when its current code is
/// typed, and shows the first recovery codes.
pub async fn confirm(
    SignedIn(member): SignedIn,
    session: Session,
    form: CsrfForm<Fields>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let code = form.0.raw("code").trim().to_string();
    let codes = new_recovery_codes();
    let (school_id, staff_id, email) = (member.school_id, member.id, member.email.clone());
    let stored = codes.clone();
    let turned_on = state
        .db
        .write(move |conn| {
            second_factor::confirm(
                conn,
                school_id,
                staff_id,
                &email,
                &code,
                &stored,
                Utc::now(),
            )
        })
        .await?;
    if !turned_on {
        let wrong = problem(
            "code",
            "that is not the code your app shows now: check it added Steadfast from this page, then type the code it shows",
        );
        return show_page(
            &member,
            &session,
            &state,
            StatusCode::BAD_REQUEST,
            None,
            Some(&wrong),
        )
        .await;
    }
    set_must_enrol(&session, false)?;
    tracing::info!(staff_id, "second factor turned on");
    let markup = with_viewer(&member, &session, |viewer| {
        recovery_codes_page(viewer, "Your authenticator app is on", &codes)
    });
    Ok(html_response(StatusCode::OK, markup))
}

/// `POST /account/security/recovery-codes`: new recovery codes in place of the old, given a
/// current code from the app.
pub async fn renew(
    SignedIn(member): SignedIn,
    session: Session,
    form: CsrfForm<Fields>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let typed = form.0.raw("renew_code").to_string();
    let codes = new_recovery_codes();
    let (school_id, staff_id) = (member.school_id, member.id);
    let stored = codes.clone();
    let renewed = state
        .db
        .write(move |conn| {
            second_factor::renew_recovery_codes(
                conn,
                school_id,
                staff_id,
                &typed,
                &stored,
                Utc::now(),
            )
        })
        .await?;
    if !renewed {
        let wrong = problem(
            "renew_code",
            "that code did not work: type the one your app shows now (each works once)",
        );
        return show_page(
            &member,
            &session,
            &state,
            StatusCode::BAD_REQUEST,
            None,
            Some(&wrong),
        )
        .await;
    }
    let markup = with_viewer(&member, &session, |viewer| {
        recovery_codes_page(viewer, "New recovery codes", &codes)
    });
    Ok(html_response(StatusCode::OK, markup))
}

/// `POST /account/security/off`: turns the second factor off, given a current code from the
/// app or a recovery code. A member whose role requires one is asked to set it up again.
pub async fn turn_off(
    SignedIn(member): SignedIn,
    session: Session,
    form: CsrfForm<Fields>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let typed = form.0.raw("off_code").to_string();
    let (school_id, staff_id) = (member.school_id, member.id);
    let outcome = state
        .db
        .write(move |conn| {
            let off = second_factor::turn_off(conn, school_id, staff_id, &typed, Utc::now())?;
            Ok((
                off,
                off && second_factor::must_enrol(conn, school_id, staff_id)?,
            ))
        })
        .await?;
    match outcome {
        (true, must_enrol) => {
            set_must_enrol(&session, must_enrol)?;
            tracing::info!(staff_id, "second factor turned off");
            Ok(see_other(&format!("{SECURITY_PAGE}?off=1")))
        }
        (false, _) => {
            let wrong = problem(
                "off_code",
                "that code did not work: type the one your app shows now, or an unused recovery code",
            );
            show_page(
                &member,
                &session,
                &state,
                StatusCode::BAD_REQUEST,
                None,
                Some(&wrong),
            )
            .await
        }
    }
}
