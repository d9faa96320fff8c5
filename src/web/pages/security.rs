//! `/account/security`: a person's second factor for password sign-in. They set up an
//! authenticator app from a QR code (an SVG drawn here) or its key typed by hand, and turn it
//! on by typing its current code; ten single-use recovery codes are shown once then, and can
//! be made anew; turning it off takes a current code (or a recovery code).

use actix_session::Session;
use actix_web::http::StatusCode;
use chrono::Utc;
use maud::{html, Markup, PreEscaped};
use rand::RngCore;

use super::form::{local, problem_summary, see_other, Fields, Form, Problem};
use super::form_page::{FormPage, PageResult, Visit};
use super::layout::csrf_field;
use super::second_factor::{set_must_enrol, SECURITY_PAGE};
use crate::db::second_factor::{self, FactorRow};
use crate::db::staff::StaffMember;
use crate::db::{from_db_time, DbConnection};
use crate::domain::second_factor::{
    display_recovery_code, display_secret, recovery_code, Authenticator, RECOVERY_CODE_COUNT,
    SECRET_BYTES,
};
use crate::error::{Error, Result};
use crate::web::auth::CsrfForm;

/// What the page knows of the member's second factor.
struct Status {
    factor: Option<FactorRow>,
    recovery_left: i64,
    /// Whether their school requires one of their role.
    required: bool,
}

fn status(conn: &mut DbConnection, member: &StaffMember) -> Result<Status> {
    let required = second_factor::required_roles(conn, member.school_id)?;
    Ok(Status {
        factor: second_factor::find(conn, member.id)?,
        recovery_left: second_factor::recovery_codes_left(conn, member.id)?,
        required: member.roles.iter().any(|r| required.contains(r)),
    })
}

/// The QR code of an `otpauth://` address, as an SVG element to put in the page.
fn qr_svg(url: &str) -> Result<String> {
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

fn view(status: &Status, member: &StaffMember) -> Result<View> {
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

/// The sign-in security page: the member's second factor and what they can do with it.
struct SecurityPage {
    status: Status,
    view: View,
}

fn render(page: &SecurityPage, form: &Form, notice: Option<&str>, csrf: &str) -> Markup {
    let (status, view, problem) = (&page.status, &page.view, form.problem());
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
                        (form.problem_at("code"))
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
                        (form.problem_at("renew_code"))
                        p.hint { "New codes replace all the old ones." }
                        button type="submit" { "Make new recovery codes" }
                    }
                    h2 { "Turn off" }
                    form.stack method="post" action="/account/security/off" {
                        (csrf_field(csrf))
                        label for="off_code" { "Code from your app, or a recovery code" }
                        input #off_code type="text" name="off_code" autocomplete="one-time-code" required;
                        (form.problem_at("off_code"))
                        @if status.required {
                            p.hint { "Your school requires it for your role: you will be asked to set it up again." }
                        }
                        button type="submit" { "Turn off" }
                    }
                }
            }
    }
}

/// The page showing new recovery codes, once: after turning the authenticator on (which
/// also means none is still to be set up) and after making new ones.
fn show_recovery_codes(visit: &Visit, title: &str, codes: &[String]) -> PageResult {
    set_must_enrol(&visit.session, false)?;
    Ok(visit.page(title, StatusCode::OK, |_| {
        html! {
            h1 { (title) }
            p { "Keep these recovery codes somewhere safe, away from your phone: print them or write them down. Each works once, instead of a code from your app. They are shown only now." }
            ol.recovery-codes #recovery-codes {
                @for code in codes { li { code { (display_recovery_code(code)) } } }
            }
            p { a.button href="/" { "I have kept them: carry on" } }
        }
    }))
}

impl FormPage for SecurityPage {
    type Key = ();
    const TITLE: &'static str = "Sign-in security";

    fn load(conn: &mut DbConnection, member: &StaffMember, _: ()) -> Result<Self> {
        let status = status(conn, member)?;
        let view = view(&status, member)?;
        Ok(SecurityPage { status, view })
    }

    fn notice(query: &Fields) -> Option<String> {
        let notice = match (query.get("recovery"), query.get("off")) {
            (Some(_), _) => "You signed in with a recovery code, which now will not work again. Make new ones below when few are left.",
            (_, Some(_)) => "Your authenticator app is off.",
            _ => return None,
        };
        Some(notice.to_string())
    }

    /// An authenticator on (set up in another session too) leaves nothing to set up here.
    fn shown(&self, session: &Session) -> Result<()> {
        if matches!(self.view, View::On { .. }) {
            set_must_enrol(session, false)?;
        }
        Ok(())
    }

    fn render(&self, form: &Form, notice: Option<&str>, csrf: &str) -> Markup {
        render(self, form, notice, csrf)
    }
}

/// `GET /account/security`: the member's second factor and what they can do with it.
pub async fn show(visit: Visit) -> PageResult {
    visit.show::<SecurityPage>(()).await
}

/// `POST /account/security/start`: a new key for an authenticator app, awaiting its first code.
pub async fn start(visit: Visit, form: CsrfForm<Fields>) -> PageResult {
    let mut secret = vec![0u8; SECRET_BYTES];
    rand::rng().fill_bytes(&mut secret);
    let key = Authenticator::new(secret, &visit.member.email)
        .map_err(|e| Error::Internal(format!("a new second factor: {e}")))?
        .secret_base32();
    visit
        .submit::<SecurityPage, _, _>((), form.0, Ok(key), |conn, by, _, key| {
            second_factor::start(conn, by.school_id, by.id, &key, Utc::now())?;
            Ok(SECURITY_PAGE.to_string())
        })
        .await
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

/// A code typed into `field` that did not work, refused with `message` at the field.
fn refused(accepted: bool, field: &str, message: &str) -> Result<()> {
    if accepted {
        Ok(())
    } else {
        Err(Error::from(&Problem::at(field, message)))
    }
}

/// `POST /account/security/confirm`: turns the new authenticator on when its current code is
/// typed, and shows the first recovery codes.
pub async fn confirm(visit: Visit, form: CsrfForm<Fields>) -> PageResult {
    let code = form.0.raw("code").trim().to_string();
    let codes = new_recovery_codes();
    let stored = codes.clone();
    let decided = visit
        .decide::<SecurityPage, _, _>((), None, form.0, move |conn, by, _| {
            let on = second_factor::confirm(
                conn,
                by.school_id,
                by.id,
                &by.email,
                &code,
                &stored,
                Utc::now(),
            )?;
            refused(on, "code", "that is not the code your app shows now: check it added Steadfast from this page, then type the code it shows")
        })
        .await;
    match decided {
        Ok((visit, ())) => {
            tracing::info!(staff_id = visit.member.id, "second factor turned on");
            show_recovery_codes(&visit, "Your authenticator app is on", &codes)
        }
        Err(answer) => answer,
    }
}

/// `POST /account/security/recovery-codes`: new recovery codes in place of the old, given a
/// current code from the app.
pub async fn renew(visit: Visit, form: CsrfForm<Fields>) -> PageResult {
    let typed = form.0.raw("renew_code").to_string();
    let codes = new_recovery_codes();
    let stored = codes.clone();
    let decided = visit
        .decide::<SecurityPage, _, _>((), None, form.0, move |conn, by, _| {
            let renewed = second_factor::renew_recovery_codes(
                conn,
                by.school_id,
                by.id,
                &typed,
                &stored,
                Utc::now(),
            )?;
            refused(
                renewed,
                "renew_code",
                "that code did not work: type the one your app shows now (each works once)",
            )
        })
        .await;
    match decided {
        Ok((visit, ())) => show_recovery_codes(&visit, "New recovery codes", &codes),
        Err(answer) => answer,
    }
}

/// `POST /account/security/off`: turns the second factor off, given a current code from the
/// app or a recovery code. A member whose role requires one is asked to set it up again.
pub async fn turn_off(visit: Visit, form: CsrfForm<Fields>) -> PageResult {
    let typed = form.0.raw("off_code").to_string();
    let decided = visit
        .decide::<SecurityPage, _, _>((), None, form.0, move |conn, by, _| {
            let off = second_factor::turn_off(conn, by.school_id, by.id, &typed, Utc::now())?;
            refused(off, "off_code", "that code did not work: type the one your app shows now, or an unused recovery code")?;
            second_factor::must_enrol(conn, by.school_id, by.id)
        })
        .await;
    match decided {
        Ok((visit, must_enrol)) => {
            set_must_enrol(&visit.session, must_enrol)?;
            tracing::info!(staff_id = visit.member.id, "second factor turned off");
            Ok(see_other(&format!("{SECURITY_PAGE}?off=1")))
        }
        Err(answer) => answer,
    }
}
