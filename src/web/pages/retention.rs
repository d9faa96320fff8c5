//! `/admin/retention`: the school's retention schedule, how long each kind of record is kept,
//! kept by administrators and read by senior leaders; and, before anything goes, the list of
//! what has expired today by pupil (UPN) and kind of record: what the daily jobs and
//! `steadfast retention` erase next.

use chrono::Utc;
use maud::{html, Markup};

use super::form::{problem_summary, Fields, Form, Problem};
use super::form_page::{FormPage, PageResult, Visit};
use super::layout::csrf_field;
use crate::db::retention::{self, Expired};
use crate::db::staff::StaffMember;
use crate::db::DbConnection;
use crate::domain::calendar::SchoolCalendar;
use crate::domain::retention::{Measure, RecordKind, Schedule};
use crate::domain::Role;
use crate::error::Result;
use crate::web::auth::{require_role, CsrfForm};

/// Who keeps the schedule.
const KEEPERS: [Role; 1] = [Role::Admin];
/// Who may read it and the list of what goes.
const READERS: [Role; 2] = [Role::Admin, Role::Slt];

/// What the page says of a period.
fn period_words(kind: RecordKind) -> &'static str {
    match kind.measure() {
        Measure::UntilBirthday => "until the pupil's birthday of this age, once they have left",
        Measure::YearsAfterWritten => "years after it was written",
    }
}

/// The schedule as stored, what has expired today, and whether the visitor may change it.
struct RetentionPage {
    schedule: Schedule,
    expired: Vec<Expired>,
    may_edit: bool,
}

impl FormPage for RetentionPage {
    type Key = ();
    const TITLE: &'static str = "Retention";

    fn load(conn: &mut DbConnection, member: &StaffMember, _: ()) -> Result<Self> {
        require_role(member, &READERS)?;
        let today = SchoolCalendar::local_date(Utc::now());
        Ok(RetentionPage {
            schedule: retention::schedule(conn, member.school_id)?,
            expired: retention::expired_in_school(conn, member.school_id, today)?,
            may_edit: member.has_any_role(&KEEPERS),
        })
    }

    fn first_values(&self, _member: &StaffMember, _query: &Fields) -> Fields {
        Fields::from_pairs(
            RecordKind::ALL.map(|kind| (kind.as_str(), self.schedule.years(kind).to_string())),
        )
    }

    fn notice(query: &Fields) -> Option<String> {
        query.get("saved").map(|_| "Saved.".to_string())
    }

    fn render(&self, form: &Form, notice: Option<&str>, csrf: &str) -> Markup {
        render(self, form, notice, csrf)
    }
}

/// The page: the schedule (as typed, with its problem, when it comes back refused) and
/// what goes next.
fn render(page: &RetentionPage, form: &Form, notice: Option<&str>, csrf: &str) -> Markup {
    let may_edit = page.may_edit;
    let fields: Vec<&str> = RecordKind::ALL.iter().map(|k| k.as_str()).collect();
    html! {
                h1 { "Retention" }
                @if let Some(notice) = notice { p.notice role="status" { (notice) } }
                p {
                    "How long Steadfast keeps each kind of record. The daily jobs erase what has expired: "
                    "the records of pupils who have left, and audit entries and emails past their age. "
                    "The records of a pupil on roll are never erased. The defaults follow the IRMS toolkit for schools."
                }
                p.hint #no-birth-date {
                    "When a pupil's date of birth is not recorded, Steadfast takes the latest birth date their year group when they left allows, "
                    "and a year later still for a pupil taught above their age, so their records are kept longer, never shorter."
                }
                p.hint {
                    "Before a pupil's records go, what the Insight reports count of them is kept without the pupil, "
                    "so the school's figures for past terms stay the same."
                }
                (problem_summary(form.problem(), &fields))
                form.stack method="post" action="/admin/retention" {
                    (csrf_field(csrf))
                    table.retention-schedule {
                        thead { tr { th { "Record" } th { "Kept" } th { "Default" } } }
                        tbody {
                            @for kind in RecordKind::ALL {
                                @let allowed = kind.allowed_years();
                                tr {
                                    td { label for=(kind.as_str()) { (kind.title()) } }
                                    td {
                                        input id=(kind.as_str()) type="number" name=(kind.as_str()) value=(form.values.raw(kind.as_str()))
                                            min=(allowed.start()) max=(allowed.end()) required disabled[!may_edit];
                                        " " span.hint { (period_words(kind)) }
                                        (form.problem_at(kind.as_str()))
                                    }
                                    td { (kind.default_years()) }
                                }
                            }
                        }
                    }
                    @if may_edit {
                        button.primary type="submit" { "Save" }
                    } @else {
                        p.muted { "Administrators change the schedule." }
                    }
                }
                h2 { "What goes next" }
                (expired_list(&page.expired))
    }
}

/// The list of what has expired today, by pupil and kind of record.
fn expired_list(expired: &[Expired]) -> maud::Markup {
    html! {
        @if expired.is_empty() {
            p.muted #nothing-expired { "Nothing has expired today." }
        } @else {
            p { "The next run of the daily jobs erases these:" }
            div.scroll tabindex="0" role="region" aria-label="Records to erase" {
                table #expired {
                    thead { tr { th { "Pupil (UPN)" } th { "Record" } th.num { "How many" } } }
                    tbody {
                        @for line in expired {
                            tr {
                                td { (line.upn.as_deref().unwrap_or("Every pupil and member of staff")) }
                                td { (line.kind.title()) }
                                td.num { (line.count) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `GET /admin/retention`: the schedule and what goes next.
pub async fn show(visit: Visit) -> PageResult {
    visit.show::<RetentionPage>(()).await
}

/// `POST /admin/retention`: saves the schedule (audited), or shows the form again with the
/// problem at its field (422).
pub async fn save(visit: Visit, form: CsrfForm<Fields>) -> PageResult {
    require_role(&visit.member, &KEEPERS)?;
    let typed = form.0.clone();
    visit
        .submit::<RetentionPage, _, _>((), form.0, Ok(()), move |conn, by, _, ()| {
            let current = retention::schedule(conn, by.school_id)?;
            let schedule = Schedule::parse(&current, |name| Some(typed.raw(name)))
                .map_err(|problem| Problem::from(problem).unprocessable())?;
            retention::save_schedule(conn, by.school_id, &schedule, by.id, Utc::now())?;
            Ok("/admin/retention?saved=1".to_string())
        })
        .await
}
