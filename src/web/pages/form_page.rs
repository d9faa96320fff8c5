//! The one way a page with forms is built: load the record in one transaction, let the domain
//! decide on a submitted form in one write, then render. A page says what it loads, what its
//! forms show first and how it renders ([`FormPage`]); a handler says how a form is read and
//! what the domain is asked to do ([`Visit::submit`]). Showing the page, sending the browser
//! on after a change and showing the page again with what was typed and the problem at its
//! field are written once, here.

use std::future::Future;
use std::pin::Pin;

use actix_session::{Session, SessionExt};
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use maud::Markup;

use super::form::{html_response, see_other, Fields, Form, Problem};
use super::layout::page;
use super::{with_counted_viewer, with_viewer};
use crate::db::audit::{self, Read};
use crate::db::notices::NoticeContext;
use crate::db::staff::StaffMember;
use crate::db::DbConnection;
use crate::error::Result;
use crate::web::auth::{app_state, SignedIn};
use crate::web::error::PageError;
use crate::web::AppState;

/// What a page handler answers: the page, a redirect, or an error page.
pub type PageResult = std::result::Result<HttpResponse, PageError>;

/// A page showing one record with its forms.
pub trait FormPage: Sized + Send + 'static {
    /// What names the record in the address: a pupil's id, a meeting's id (or what else the
    /// page loads by: the changes a list page reports after one).
    type Key: Clone + Send + 'static;

    /// The page's title.
    const TITLE: &'static str;

    /// The page's title when it names the record; [`FormPage::TITLE`] unless said otherwise.
    fn title(&self) -> String {
        Self::TITLE.to_string()
    }

    /// The audit entry reading the page records, when reading it is recorded.
    const READ: Option<Read> = None;

    /// Loads the record and all the page shows, checking that `member` may see it.
    fn load(conn: &mut DbConnection, member: &StaffMember, key: Self::Key) -> Result<Self>;

    /// The pupil and detail of the audit entry for reading the page.
    fn read_about(&self, _key: Self::Key) -> (Option<i64>, String) {
        (None, String::new())
    }

    /// What the page's forms show the first time: the record's own values (none, for a page
    /// whose forms start empty or show the record's values themselves).
    fn first_values(&self, _member: &StaffMember, _query: &Fields) -> Fields {
        Fields::default()
    }

    /// What the page says after a change sent the browser back to it, read from the query
    /// string (`?done=...`); nothing unless said otherwise.
    fn notice(_query: &Fields) -> Option<String> {
        None
    }

    /// What showing the page notes in the visitor's session (the sign-in security page, once
    /// a second factor is on, that none is still to be set up); nothing unless said otherwise.
    fn shown(&self, _session: &Session) -> Result<()> {
        Ok(())
    }

    /// The count of decisions waiting for the member, when the page counted them (shown next
    /// to "Decisions" in the navigation).
    fn decisions_waiting(&self) -> Option<i64> {
        None
    }

    /// The page's body.
    fn render(&self, form: &Form, notice: Option<&str>, csrf: &str) -> Markup;
}

/// What a submitted form asks the domain to do, in one write, with the form as read: the
/// place the browser goes next, or a refusal.
pub trait Change<T>:
    FnOnce(&mut DbConnection, &StaffMember, &NoticeContext, T) -> Result<String> + Send + 'static
{
}

impl<T, F> Change<T> for F where
    F: FnOnce(&mut DbConnection, &StaffMember, &NoticeContext, T) -> Result<String>
        + Send
        + 'static
{
}

/// A signed-in staff member's request for a page: who asks, their session, the application
/// and the query string. Taken first by a handler, so signing in is checked before anything
/// else.
pub struct Visit {
    pub member: StaffMember,
    pub session: Session,
    pub state: web::Data<AppState>,
    pub query: Fields,
}

impl FromRequest for Visit {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = std::result::Result<Self, PageError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let signed_in = SignedIn::from_request(req, payload);
        let session = req.get_session();
        let state = app_state(req);
        let query = Fields::from_query(req.query_string());
        Box::pin(async move {
            let SignedIn(member) = signed_in.await?;
            Ok(Visit {
                member,
                session,
                state: state?,
                query,
            })
        })
    }
}

impl Visit {
    /// `GET`: the page with its forms filled from the record, and the notice `?done=` asks
    /// for; the read is recorded in the audit log when the page's reads are.
    pub async fn show<P: FormPage>(self, key: P::Key) -> PageResult {
        let viewer = self.member.clone();
        let data = match P::READ {
            Some(read) => {
                audit::read_recorded(&self.state.db, &self.member, read, move |conn| {
                    let data = P::load(conn, &viewer, key.clone())?;
                    let (pupil_id, detail) = data.read_about(key);
                    Ok((data, pupil_id, detail))
                })
                .await?
            }
            None => {
                self.state
                    .db
                    .transaction(move |conn| P::load(conn, &viewer, key))
                    .await?
            }
        };
        let form = Form::first(data.first_values(&self.member, &self.query));
        let notice = P::notice(&self.query);
        self.answer(&data, &form, notice.as_deref(), StatusCode::OK)
    }

    /// The page shown again with `form`: what was typed and the problem at its field.
    pub async fn again<P: FormPage>(
        self,
        key: P::Key,
        form: Form,
        status: StatusCode,
    ) -> PageResult {
        let viewer = self.member.clone();
        let data = self
            .state
            .db
            .transaction(move |conn| P::load(conn, &viewer, key))
            .await?;
        self.answer(&data, &form, None, status)
    }

    /// Handles a submitted form: `read` is the form as read (a problem shows the page again,
    /// 400); `change` asks the domain to decide in one write and says where the browser goes
    /// next. A refusal the person can put right shows the page again with it at its field;
    /// any other error is the error page.
    pub async fn submit<P, T, F>(
        self,
        key: P::Key,
        typed: Fields,
        read: std::result::Result<T, Problem>,
        change: F,
    ) -> PageResult
    where
        P: FormPage,
        T: Send + 'static,
        F: Change<T>,
    {
        self.submit_to::<P, T, F>(key, None, typed, read, change)
            .await
    }

    /// [`Visit::submit`] for a page with several forms: `sent` names the one sent, so that
    /// it alone is shown again with what was typed.
    pub async fn submit_to<P, T, F>(
        self,
        key: P::Key,
        sent: Option<String>,
        typed: Fields,
        read: std::result::Result<T, Problem>,
        change: F,
    ) -> PageResult
    where
        P: FormPage,
        T: Send + 'static,
        F: Change<T>,
    {
        let asked = match read {
            Ok(asked) => asked,
            Err(problem) => {
                let form = Form::again(typed, problem).sent_as(sent);
                return self.again::<P>(key, form, StatusCode::BAD_REQUEST).await;
            }
        };
        let decided = self
            .decide::<P, _, _>(key, sent, typed, move |conn, by, context| {
                change(conn, by, context, asked)
            })
            .await;
        match decided {
            Ok((_, location)) => Ok(see_other(&location)),
            Err(answer) => answer,
        }
    }

    /// Runs `change` in one write, for a handler whose answer after a change is a page of its
    /// own rather than a redirect (codes shown once): the visit back with what `change`
    /// answered; or, when it is refused, the page shown again with what was typed and the
    /// problem at its field (any other error is the error page).
    pub async fn decide<P, T, F>(
        self,
        key: P::Key,
        sent: Option<String>,
        typed: Fields,
        change: F,
    ) -> std::result::Result<(Visit, T), PageResult>
    where
        P: FormPage,
        T: Send + 'static,
        F: FnOnce(&mut DbConnection, &StaffMember, &NoticeContext) -> Result<T> + Send + 'static,
    {
        let context = NoticeContext::from_settings(&self.state.settings);
        let by = self.member.clone();
        let outcome = self
            .state
            .db
            .write(move |conn| change(conn, &by, &context))
            .await;
        match outcome {
            Ok(done) => Ok((self, done)),
            Err(error) => Err(match Problem::of_refusal(error) {
                Ok((status, problem)) => {
                    let form = Form::again(typed, problem).sent_as(sent);
                    self.again::<P>(key, form, status).await
                }
                Err(error) => Err(error),
            }),
        }
    }

    /// A page of the layout with `status`; `body` is given the CSRF token for its forms.
    pub fn page(
        &self,
        title: &str,
        status: StatusCode,
        body: impl FnOnce(&str) -> Markup,
    ) -> HttpResponse {
        let markup = with_viewer(&self.member, &self.session, |viewer| {
            page(title, viewer, body(viewer.csrf))
        });
        html_response(status, markup)
    }

    /// A list page read through filters in its query string: 400 when `problem` (the first
    /// filter refused, shown at its field by `body`) is there, else 200.
    pub fn filtered(
        &self,
        title: &str,
        problem: Option<&Problem>,
        body: impl FnOnce(&str) -> Markup,
    ) -> HttpResponse {
        let status = if problem.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        };
        self.page(title, status, body)
    }

    /// The page of `data` with `form` and `notice`, for a handler that loaded the page's
    /// data itself because its answer to a form is the page (a preview), not a redirect.
    pub fn answer<P: FormPage>(
        &self,
        data: &P,
        form: &Form,
        notice: Option<&str>,
        status: StatusCode,
    ) -> PageResult {
        data.shown(&self.session)?;
        let waiting = data.decisions_waiting();
        let markup = with_counted_viewer(&self.member, &self.session, waiting, |viewer| {
            page(
                &data.title(),
                viewer,
                data.render(form, notice, viewer.csrf),
            )
        });
        Ok(html_response(status, markup))
    }
}
