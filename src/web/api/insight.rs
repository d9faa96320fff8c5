//! The insight reports in the API: incident patterns, the ladder at a glance, and whether
//! each step works. Scope and dates are read by the reports' own reader
//! ([`crate::web::pages::report_scope`]) and the figures built by the pages' own code, so the
//! API refuses what the pages refuse (400 naming the field) and answers what they show, to
//! the people who may see them ([`crate::db::insight::may_see`]).

use actix_web::{web, HttpResponse};
use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::db::insight::Scope;
use crate::domain::calendar::SchoolCalendar;
use crate::domain::insight::{Dimension, Tier};
use crate::domain::Level;
use crate::error::Error;
use crate::web::auth::ApiUser;
use crate::web::error::{ApiError, ErrorBody};
use crate::web::pages::form::{Fields, Problem};
use crate::web::pages::impact::{self, GroupRow, Report};
use crate::web::pages::insight as patterns_page;
use crate::web::AppState;

/// The scope and range of a pattern report or the ladder.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// `school`, `year`, `form`, `house` or `pupil` (the ladder and impact reports: `school`,
    /// `year` or `house`). Left out: the whole school for those who see it, else the caller's
    /// own year group or house.
    pub scope: Option<String>,
    /// The year group, for `scope=year` (a Head of Year's own when left out).
    pub year: Option<String>,
    /// The form's id, for `scope=form`.
    pub form: Option<String>,
    /// The house's id, for `scope=house`.
    pub house: Option<String>,
    /// The pupil's id, for `scope=pupil`.
    pub pupil_id: Option<String>,
    /// The first school date (YYYY-MM-DD), included.
    pub from: Option<String>,
    /// The last school date (YYYY-MM-DD), included; left out, today.
    pub to: Option<String>,
}

/// The scope and range of the impact report, and the level its year groups are compared on.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ImpactQuery {
    /// `school`, `year` or `house`.
    pub scope: Option<String>,
    pub year: Option<String>,
    pub form: Option<String>,
    pub house: Option<String>,
    pub pupil_id: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// The level (1 to 6) the year groups are compared on; left out or `all`: all levels.
    pub level: Option<String>,
}

/// The query as the reports' reader takes it: the API's `pupil_id` is the pages' `pupil`.
fn fields_of(pairs: [(&str, &Option<String>); 8]) -> Fields {
    Fields::from_pairs(
        pairs
            .into_iter()
            .filter_map(|(name, value)| value.clone().map(|v| (name, v))),
    )
}

impl ReportQuery {
    fn fields(&self) -> Fields {
        fields_of([
            ("scope", &self.scope),
            ("year", &self.year),
            ("form", &self.form),
            ("house", &self.house),
            ("pupil", &self.pupil_id),
            ("from", &self.from),
            ("to", &self.to),
            ("level", &None),
        ])
    }
}

impl ImpactQuery {
    fn fields(&self) -> Fields {
        fields_of([
            ("scope", &self.scope),
            ("year", &self.year),
            ("form", &self.form),
            ("house", &self.house),
            ("pupil", &self.pupil_id),
            ("from", &self.from),
            ("to", &self.to),
            ("level", &self.level),
        ])
    }
}

/// The field a refused part of the query is at, by the API's names.
fn api_field(field: &str) -> &str {
    match field {
        "pupil" => "pupil_id",
        other => other,
    }
}

/// A refused part of the query as the API's error, with the field by the API's name.
fn refusal(error: Error) -> Error {
    match error {
        Error::Invalid {
            code,
            message,
            field: Some(field),
        } => {
            let field = api_field(&field).to_string();
            Error::Invalid {
                code,
                message: format!("{field}: {message}"),
                field: Some(field),
            }
        }
        other => other,
    }
}

fn refused(problem: &Problem) -> ApiError {
    ApiError(refusal(Error::from(problem)))
}

fn today() -> NaiveDate {
    SchoolCalendar::local_date(Utc::now())
}

/// Whose figures a report gives.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ScopeJson {
    /// `school`, `year`, `form`, `house` or `pupil`.
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub year: Option<i16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub form: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub house: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pupil_id: Option<i64>,
}

impl From<Scope> for ScopeJson {
    fn from(scope: Scope) -> Self {
        let mut json = ScopeJson {
            kind: String::new(),
            year: None,
            form: None,
            house: None,
            pupil_id: None,
        };
        json.kind = match scope {
            Scope::School => "school",
            Scope::Year(year) => {
                json.year = Some(year);
                "year"
            }
            Scope::Form(id) => {
                json.form = Some(id);
                "form"
            }
            Scope::House(id) => {
                json.house = Some(id);
                "house"
            }
            Scope::Pupil(id) => {
                json.pupil_id = Some(id);
                "pupil"
            }
        }
        .to_string();
        json
    }
}

// ---------------------------------------------------------------------------------------------
// Patterns
// ---------------------------------------------------------------------------------------------

/// One group of a grouping: a behaviour, a place, a lesson period...
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PatternGroupJson {
    /// The group's key: the behaviour, place, period, weekday or subject as recorded, or a
    /// pupil's or member of staff's id.
    pub key: String,
    /// The group as the page names it.
    pub label: String,
    pub incidents: u32,
    /// Incidents per 100 pupils per school day; null for one pupil (counts only) or a range
    /// with no school day.
    pub rate: Option<f64>,
    /// The pupil the group is, in the pupil grouping.
    pub pupil_id: Option<i64>,
}

/// One grouping of the pattern report, its groups most incidents first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PatternDimensionJson {
    /// `behaviour`, `location`, `period`, `weekday`, `subject`, `pupil` or `staff`.
    pub dimension: String,
    pub title: String,
    pub groups: Vec<PatternGroupJson>,
}

/// The answer of `GET /api/v1/insight/patterns`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PatternsJson {
    pub scope: ScopeJson,
    /// What the scope is called: "the whole school", "Year 9", "form 9B", a pupil's name.
    pub scope_name: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Pupils in the scope.
    pub pupils: u64,
    /// School days in the range.
    pub school_days: u32,
    /// Incidents in the scope and range.
    pub incidents: u64,
    /// Whether rates per 100 pupils are given (not for one pupil).
    pub rated: bool,
    pub dimensions: Vec<PatternDimensionJson>,
}

fn dimension_name(dimension: Dimension) -> String {
    dimension.as_str().to_string()
}

/// The pattern report of a scope and range, as the Insight page shows it (every group of the
/// pupil and staff groupings, as its CSV gives them).
#[utoipa::path(
    get,
    path = "/api/v1/insight/patterns",
    params(ReportQuery),
    responses(
        (status = 200, description = "Incidents grouped by behaviour, place, lesson period, weekday, subject, pupil and member of staff, with rates", body = PatternsJson),
        (status = 400, description = "The scope or a date is wrong, or the range is too long; `field` names it", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "These patterns are for the pupils' Head of Year or Head of House, heads of department, the SENDCO and SLT", body = ErrorBody),
        (status = 404, description = "No such form, house or pupil in this school", body = ErrorBody),
        (status = 429, description = "As many of the school's reports as may run at once are running; `Retry-After` says when to try again", body = ErrorBody)
    )
)]
pub async fn patterns(
    user: ApiUser,
    query: web::Query<ReportQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let member = user.0;
    let (ask, problem) = patterns_page::read_ask(&member, &query.fields(), today());
    if let Some(problem) = &problem {
        return Err(refused(problem));
    }
    let school_id = member.school_id;
    let report = state
        .db
        .report(school_id, move |conn| {
            patterns_page::permit(conn, &member, ask.scope).map_err(refusal)?;
            patterns_page::build_report(conn, member.school_id, ask, true)
        })
        .await?;
    Ok(HttpResponse::Ok().json(PatternsJson {
        scope: ScopeJson::from(report.ask.scope),
        scope_name: report.scope_name,
        from: report.ask.from,
        to: report.ask.to,
        pupils: report.pupils,
        school_days: report.school_days,
        incidents: report.total,
        rated: report.rated,
        dimensions: report
            .dimensions
            .into_iter()
            .map(|(dimension, rows, _)| PatternDimensionJson {
                dimension: dimension_name(dimension),
                title: dimension.title().to_string(),
                groups: rows
                    .into_iter()
                    .map(|row| PatternGroupJson {
                        key: row.key,
                        label: row.label,
                        incidents: row.incidents,
                        rate: row.rate,
                        pupil_id: row.pupil,
                    })
                    .collect(),
            })
            .collect(),
    }))
}

// ---------------------------------------------------------------------------------------------
// The ladder
// ---------------------------------------------------------------------------------------------

fn percent(n: u32, total: u32) -> Option<f64> {
    (total > 0).then(|| f64::from(n) * 100.0 / f64::from(total))
}

/// Pupils on one level now.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LevelCountJson {
    /// 0 (none) to 6.
    pub level: i16,
    /// none, prompt, conversation, time, plan, programme or provision.
    pub name: String,
    pub pupils: u32,
    /// Of all the scope's pupils, in percent; null when there are none.
    pub share_percent: Option<f64>,
}

/// Pupils in one of the three tiers now, against the usual shape.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TierJson {
    /// `universal` (levels 0-2), `targeted` (3-4) or `specialist` (5-6).
    pub tier: String,
    pub pupils: u32,
    pub share_percent: Option<f64>,
    /// The usual share: 80, 15 and 5.
    pub usual_percent: u32,
}

/// How pupils moved in one week.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WeekJson {
    /// The Monday the week starts.
    pub week: Option<NaiveDate>,
    pub escalations: u32,
    pub step_downs: u32,
    /// Moves down to no level: support closed.
    pub closures: u32,
    /// School days in the week (within the range).
    pub school_days: u32,
    /// A holiday week with nothing to count (the page leaves it as a gap).
    pub holiday: bool,
}

/// The answer of `GET /api/v1/insight/ladder`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LadderJson {
    pub scope: ScopeJson,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub pupils: u32,
    pub levels: Vec<LevelCountJson>,
    pub tiers: Vec<TierJson>,
    /// The share of pupils above the universal tier, in percent.
    pub above_universal_percent: Option<f64>,
    /// One sentence on the shape of the ladder, as the page says it.
    pub shape: String,
    pub weeks: Vec<WeekJson>,
}

fn tier_name(tier: Tier) -> &'static str {
    match tier {
        Tier::Universal => "universal",
        Tier::Targeted => "targeted",
        Tier::Specialist => "specialist",
    }
}

/// The ladder at a glance, as its page shows it: pupils on each level now, the three tiers
/// against the usual 80/15/5, and how pupils moved week by week in the range.
#[utoipa::path(
    get,
    path = "/api/v1/insight/ladder",
    params(ReportQuery),
    responses(
        (status = 200, description = "Pupils on each level, the tiers and the weekly flow", body = LadderJson),
        (status = 400, description = "The scope or a date is wrong, or the range is too long; `field` names it", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The whole school's reports are for the SENDCO, heads of department and SLT; a year group's or house's for its head too", body = ErrorBody),
        (status = 429, description = "As many of the school's reports as may run at once are running; `Retry-After` says when to try again", body = ErrorBody)
    )
)]
pub async fn ladder(
    user: ApiUser,
    query: web::Query<ReportQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let member = user.0;
    let choice = impact::read_download_choice(&member, &query.fields(), Report::Ladder, today())
        .map_err(|e| ApiError(refusal(e)))?;
    let ladder = impact::load_ladder(&state, &member, choice).await?;
    let total = ladder.total();
    Ok(HttpResponse::Ok().json(LadderJson {
        scope: ScopeJson::from(choice.scope),
        from: choice.from,
        to: choice.to,
        pupils: total,
        levels: Level::ALL
            .iter()
            .zip(ladder.counts)
            .map(|(level, n)| LevelCountJson {
                level: level.number(),
                name: level.name().to_string(),
                pupils: n,
                share_percent: percent(n, total),
            })
            .collect(),
        tiers: Tier::ALL
            .iter()
            .map(|tier| {
                let n = ladder.tier_count(*tier);
                TierJson {
                    tier: tier_name(*tier).to_string(),
                    pupils: n,
                    share_percent: percent(n, total),
                    usual_percent: tier.usual_percent(),
                }
            })
            .collect(),
        above_universal_percent: ladder.above_universal(),
        shape: ladder.shape(),
        weeks: ladder
            .flow
            .iter()
            .map(|week| WeekJson {
                week: week.week,
                escalations: week.escalations,
                step_downs: week.step_downs,
                closures: week.closures,
                school_days: week.school_days,
                holiday: week.is_holiday(),
            })
            .collect(),
    }))
}

// ---------------------------------------------------------------------------------------------
// Impact
// ---------------------------------------------------------------------------------------------

/// Incidents before and after a step, for one group.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ImpactGroupJson {
    /// A stable key: `level-3`, `year-9`, `staff-12`, `staff-none`.
    pub key: String,
    pub label: String,
    /// Pupils judged (their after window has ended).
    pub pupils: u32,
    pub incidents_before: u64,
    pub incidents_after: u64,
    /// School days in all the windows on each side.
    pub school_days: u64,
    /// Incidents per pupil per school day before and after.
    pub rate_before: Option<f64>,
    pub rate_after: Option<f64>,
    /// The change from before to after, in percent.
    pub change_percent: Option<f64>,
    /// Pupils with fewer incidents after than before.
    pub fewer_after: u32,
    /// Pupils with more incidents after than before.
    pub more_after: u32,
    /// Too few pupils to read much into.
    pub small: bool,
    /// Pupils whose after window has not ended yet.
    pub waiting: u32,
}

impl From<&GroupRow> for ImpactGroupJson {
    fn from(row: &GroupRow) -> Self {
        let s = &row.summary;
        ImpactGroupJson {
            key: row.key.clone(),
            label: row.label.clone(),
            pupils: s.pupils,
            incidents_before: s.before,
            incidents_after: s.after,
            school_days: s.school_days,
            rate_before: s.rate_before(),
            rate_after: s.rate_after(),
            change_percent: s.change_percent(),
            fewer_after: s.helped,
            more_after: s.worsened,
            small: s.is_small(),
            waiting: row.waiting,
        }
    }
}

/// The answer of `GET /api/v1/insight/impact`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ImpactJson {
    pub scope: ScopeJson,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The level the year groups are compared on; null for all levels.
    pub level: Option<i16>,
    /// School days in each window, before and after.
    pub window_school_days: u32,
    /// Steps whose after window has not ended yet.
    pub waiting: u32,
    pub by_level: Vec<ImpactGroupJson>,
    pub by_year: Vec<ImpactGroupJson>,
    /// By who delivered the step.
    pub by_staff: Vec<ImpactGroupJson>,
}

/// Whether each step works, as its page shows it: for each level entered in the range,
/// incidents per pupil per school day in the school days before against the same number
/// after, with the pupils behind each figure; then by year group and by who delivered it.
#[utoipa::path(
    get,
    path = "/api/v1/insight/impact",
    params(ImpactQuery),
    responses(
        (status = 200, description = "Incidents before and after each step, by level, year group and member of staff", body = ImpactJson),
        (status = 400, description = "The scope, a date or the level is wrong, or the range is too long; `field` names it", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The whole school's reports are for the SENDCO, heads of department and SLT; a year group's or house's for its head too", body = ErrorBody),
        (status = 429, description = "As many of the school's reports as may run at once are running; `Retry-After` says when to try again", body = ErrorBody)
    )
)]
pub async fn impact(
    user: ApiUser,
    query: web::Query<ImpactQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let member = user.0;
    let today = today();
    let choice = impact::read_download_choice(&member, &query.fields(), Report::Impact, today)
        .map_err(|e| ApiError(refusal(e)))?;
    let figures = impact::load_impact(&state, &member, choice, today).await?;
    let rows = |groups: &[GroupRow]| groups.iter().map(ImpactGroupJson::from).collect();
    Ok(HttpResponse::Ok().json(ImpactJson {
        scope: ScopeJson::from(choice.scope),
        from: choice.from,
        to: choice.to,
        level: choice.level.map(Level::number),
        window_school_days: figures.n,
        waiting: figures.waiting,
        by_level: rows(&figures.by_level),
        by_year: rows(&figures.by_year),
        by_staff: rows(&figures.by_staff),
    }))
}
