//! The pastoral lead's inbox (`/inbox`) and the manual level forms of the pupil page, over
//! plain HTTP as a browser without JavaScript uses them: who sees which suggestions, accept
//! (with the meeting it creates), decline with its required reason, snooze, a decision made
//! twice, and moves by hand through the sequence's gates. Every test runs on SQLite and on
//! PostgreSQL.

mod common;

use chrono::{Days, TimeDelta, Utc};
use common::{both_engines, csrf_token_in, location, page_client, spawn_app, Engine, Role};
use common::{TestApp, PASSWORD};
use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::json;
use steadfast::db::models::{LevelChangeRow, MeetingRow, School, SuggestionRow};
use steadfast::db::pupils::PupilView;
use steadfast::db::schema;
use steadfast::db::staff::StaffMember;
use steadfast::domain::calendar::SchoolCalendar;
use steadfast::domain::{EscalationPolicy, Level};

const TEACHER: &str = "tess@north.example";
const HEAD_OF_YEAR_8: &str = "hana@north.example";
const SENDCO: &str = "sol@north.example";
const SLT: &str = "sara@north.example";

/// A school with a class teacher (holding an API token), the Head of Year 8, the SENDCO and
/// a member of SLT; Amira in Year 8 and Yusuf in Year 9.
struct Scene {
    app: TestApp,
    school: School,
    teacher_token: String,
    amira: PupilView,
    yusuf: PupilView,
}

async fn arrange(engine: Engine) -> Scene {
    let app = spawn_app(engine).await;
    let school = app.create_school("NORTH", "North Academy");
    let teacher = app.create_staff(
        &school,
        TEACHER,
        "Tess Teacher",
        &[Role::ClassStaff],
        Some(PASSWORD),
    );
    let teacher_token = app.create_token(&teacher);
    let amira = app.create_pupil(&school, "A123456789012", "Amira", "Okafor", 8, "8B");
    let yusuf = app.create_pupil(&school, "B123456789012", "Yusuf", "Bell", 9, "9C");
    let head = app.create_staff(
        &school,
        HEAD_OF_YEAR_8,
        "Hana Head",
        &[Role::PastoralLead],
        Some(PASSWORD),
    );
    lead_year(&app, &school, &head, 8);
    app.create_staff(
        &school,
        SENDCO,
        "Sol Sendco",
        &[Role::Sendco],
        Some(PASSWORD),
    );
    app.create_staff(&school, SLT, "Sara Senior", &[Role::Slt], Some(PASSWORD));
    Scene {
        app,
        school,
        teacher_token,
        amira,
        yusuf,
    }
}

/// Makes `member` lead the year group `year` (which exists once a pupil is in it).
fn lead_year(app: &TestApp, school: &School, member: &StaffMember, year: i16) {
    let group: i64 = schema::year_groups::table
        .filter(schema::year_groups::school_id.eq(school.id))
        .filter(schema::year_groups::year.eq(year))
        .select(schema::year_groups::id)
        .first(&mut *app.conn())
        .expect("the year group");
    diesel::insert_into(schema::staff_year_groups::table)
        .values((
            schema::staff_year_groups::staff_id.eq(member.id),
            schema::staff_year_groups::year_group_id.eq(group),
            schema::staff_year_groups::school_id.eq(school.id),
        ))
        .execute(&mut *app.conn())
        .expect("leading the year group");
}

/// Puts a pupil at `level` since an hour ago, as earlier decisions would have.
fn set_level(app: &TestApp, pupil: &PupilView, level: Level) {
    let since = (Utc::now() - TimeDelta::hours(1)).naive_utc();
    diesel::update(schema::pupils::table.find(pupil.id))
        .set((
            schema::pupils::level.eq(level.number()),
            schema::pupils::level_since.eq(since),
            schema::pupils::had_plan.eq(level >= Level::Plan),
        ))
        .execute(&mut *app.conn())
        .expect("setting the level");
}

/// Stores an open suggestion directly, as the rules would.
fn suggest(app: &TestApp, school: &School, pupil: &PupilView, from: Level, to: Level) -> i64 {
    diesel::insert_into(schema::suggestions::table)
        .values((
            schema::suggestions::school_id.eq(school.id),
            schema::suggestions::pupil_id.eq(pupil.id),
            schema::suggestions::from_level.eq(from.number()),
            schema::suggestions::to_level.eq(to.number()),
            schema::suggestions::rule.eq("incidents_after_time"),
            schema::suggestions::reason.eq(format!("Reason for {}", pupil.given_name)),
            schema::suggestions::evidence.eq("[]"),
            schema::suggestions::status.eq("open"),
            schema::suggestions::policy_version.eq(1),
            schema::suggestions::created_at.eq(Utc::now().naive_utc()),
        ))
        .returning(schema::suggestions::id)
        .get_result(&mut *app.conn())
        .expect("storing a suggestion")
}

/// Amira at Coaching Conversation, then a serious incident logged through the API: the
/// rules suggest Coaching Time. Answers the suggestion and the incident.
async fn serious_incident_for_amira(s: &Scene) -> (SuggestionRow, i64) {
    set_level(&s.app, &s.amira, Level::Conversation);
    let (status, body) = s
        .app
        .api_post(
            "/api/v1/incidents",
            &s.teacher_token,
            &json!({"pupil_ids": [s.amira.id], "behaviour": "Physical aggression",
                    "severity": "serious", "response": "none"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let incident = body["id"].as_i64().expect("an incident id");
    let suggestion = suggestion(
        &s.app,
        body["suggestions"][0]["id"].as_i64().expect("a suggestion"),
    );
    assert_eq!(suggestion.to_level, Level::Time.number());
    assert_eq!(suggestion.status, "open");
    (suggestion, incident)
}

fn suggestion(app: &TestApp, id: i64) -> SuggestionRow {
    schema::suggestions::table
        .find(id)
        .select(SuggestionRow::as_select())
        .first(&mut *app.conn())
        .expect("the suggestion")
}

fn level_of(app: &TestApp, pupil: &PupilView) -> i16 {
    schema::pupils::table
        .find(pupil.id)
        .select(schema::pupils::level)
        .first(&mut *app.conn())
        .expect("the pupil's level")
}

fn level_changes(app: &TestApp, pupil: &PupilView) -> Vec<LevelChangeRow> {
    schema::level_changes::table
        .filter(schema::level_changes::pupil_id.eq(pupil.id))
        .order(schema::level_changes::id.asc())
        .select(LevelChangeRow::as_select())
        .load(&mut *app.conn())
        .expect("the level changes")
}

fn meetings(app: &TestApp, pupil: &PupilView) -> Vec<MeetingRow> {
    schema::meetings::table
        .filter(schema::meetings::pupil_id.eq(pupil.id))
        .select(MeetingRow::as_select())
        .load(&mut *app.conn())
        .expect("the meetings")
}

/// A client signed in as `email`, and the CSRF token of its session.
async fn signed_in(app: &TestApp, email: &str) -> (reqwest::Client, String) {
    let client = page_client();
    let response = app.login(&client, email, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "signing in");
    let page = app.get_page(&client, "/").await;
    assert_eq!(page.status(), StatusCode::OK, "GET /");
    let csrf = csrf_token_in(&page.text().await.expect("the page"));
    (client, csrf)
}

async fn post_form(
    app: &TestApp,
    client: &reqwest::Client,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    client
        .post(app.url(path))
        .form(fields)
        .send()
        .await
        .expect("an answer")
}

async fn page(app: &TestApp, client: &reqwest::Client, path: &str) -> (StatusCode, String) {
    let response = app.get_page(client, path).await;
    let status = response.status();
    (status, response.text().await.expect("a body"))
}

fn card(id: i64) -> String {
    format!(r#"id="suggestion-{id}""#)
}

async fn a_head_of_year_sees_only_their_year_groups(engine: Engine) {
    let s = arrange(engine).await;
    set_level(&s.app, &s.amira, Level::Prompt);
    set_level(&s.app, &s.yusuf, Level::Prompt);
    let for_amira = suggest(
        &s.app,
        &s.school,
        &s.amira,
        Level::Prompt,
        Level::Conversation,
    );
    let for_yusuf = suggest(
        &s.app,
        &s.school,
        &s.yusuf,
        Level::Prompt,
        Level::Conversation,
    );

    let (client, csrf) = signed_in(&s.app, HEAD_OF_YEAR_8).await;
    let (status, inbox) = page(&s.app, &client, "/inbox").await;

    assert_eq!(status, StatusCode::OK);
    assert!(inbox.contains(&card(for_amira)), "{inbox}");
    assert!(inbox.contains("Amira Okafor"), "{inbox}");
    assert!(inbox.contains("Reason for Amira"), "{inbox}");
    assert!(!inbox.contains(&card(for_yusuf)), "{inbox}");
    assert!(!inbox.contains("Yusuf"), "{inbox}");
    // The navigation links the inbox with the count waiting, and so does the home page.
    assert!(
        inbox.contains(r#"href="/inbox">Decisions <span class="tag">1</span>"#),
        "{inbox}"
    );
    let (_, home) = page(&s.app, &client, "/").await;
    assert!(
        home.contains(r#"<a class="stat decisions" href="/inbox"><strong>1</strong><span>suggestions to decide</span></a>"#),
        "{home}"
    );

    // SLT sees both.
    let (slt, _) = signed_in(&s.app, SLT).await;
    let (_, all) = page(&s.app, &slt, "/inbox").await;
    assert!(
        all.contains(&card(for_amira)) && all.contains(&card(for_yusuf)),
        "{all}"
    );
    // The Head of Year cannot decide for a pupil of another year.
    let refused = post_form(
        &s.app,
        &client,
        &format!("/inbox/{for_yusuf}/accept"),
        &[("csrf_token", &csrf)],
    )
    .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(suggestion(&s.app, for_yusuf).status, "open");
}

async fn the_sendco_sees_suggestions_to_levels_4_to_6_only(engine: Engine) {
    let s = arrange(engine).await;
    set_level(&s.app, &s.amira, Level::Time);
    set_level(&s.app, &s.yusuf, Level::Prompt);
    let to_plan = suggest(&s.app, &s.school, &s.amira, Level::Time, Level::Plan);
    let to_conversation = suggest(
        &s.app,
        &s.school,
        &s.yusuf,
        Level::Prompt,
        Level::Conversation,
    );

    let (client, csrf) = signed_in(&s.app, SENDCO).await;
    let (status, inbox) = page(&s.app, &client, "/inbox").await;

    assert_eq!(status, StatusCode::OK);
    assert!(inbox.contains(&card(to_plan)), "{inbox}");
    assert!(
        inbox.contains("Accept: step up to Coaching Plan"),
        "{inbox}"
    );
    assert!(!inbox.contains(&card(to_conversation)), "{inbox}");
    let refused = post_form(
        &s.app,
        &client,
        &format!("/inbox/{to_conversation}/accept"),
        &[("csrf_token", &csrf)],
    )
    .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(level_of(&s.app, &s.yusuf), Level::Prompt.number());
}

async fn class_staff_get_403(engine: Engine) {
    let s = arrange(engine).await;
    set_level(&s.app, &s.amira, Level::Prompt);
    let id = suggest(
        &s.app,
        &s.school,
        &s.amira,
        Level::Prompt,
        Level::Conversation,
    );
    let (client, csrf) = signed_in(&s.app, TEACHER).await;

    let (status, inbox) = page(&s.app, &client, "/inbox").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{inbox}");
    let accept = post_form(
        &s.app,
        &client,
        &format!("/inbox/{id}/accept"),
        &[("csrf_token", &csrf)],
    )
    .await;
    assert_eq!(accept.status(), StatusCode::FORBIDDEN);
    assert_eq!(suggestion(&s.app, id).status, "open");
    // No link to it, and no level form on the pupil page.
    let (_, pupil) = page(&s.app, &client, &format!("/pupils/{}", s.amira.id)).await;
    assert!(!pupil.contains(r#"href="/inbox""#), "{pupil}");
    assert!(!pupil.contains("Change level"), "{pupil}");
    let moved = post_form(
        &s.app,
        &client,
        &format!("/pupils/{}/level", s.amira.id),
        &[("csrf_token", &csrf), ("to", "2"), ("reason", "Because")],
    )
    .await;
    assert_eq!(moved.status(), StatusCode::FORBIDDEN);
    assert_eq!(level_of(&s.app, &s.amira), Level::Prompt.number());
    // Without a session, the inbox sends to the login page.
    let anonymous = page_client();
    let response = s.app.get_page(&anonymous, "/inbox").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login");
}

async fn accept_moves_the_pupil_and_creates_the_due_meeting(engine: Engine) {
    let s = arrange(engine).await;
    let (open, incident) = serious_incident_for_amira(&s).await;
    let (client, csrf) = signed_in(&s.app, HEAD_OF_YEAR_8).await;

    let (_, inbox) = page(&s.app, &client, "/inbox").await;
    assert!(inbox.contains(&card(open.id)), "{inbox}");
    assert!(inbox.contains(&open.reason), "{inbox}");
    assert!(
        inbox.contains(&format!(
            r#"href="/pupils/{}#incident-{incident}""#,
            s.amira.id
        )),
        "the evidence links the timeline: {inbox}"
    );
    assert!(inbox.contains("Physical aggression"), "{inbox}");
    assert!(inbox.contains("serious incident"), "{inbox}");
    assert!(
        inbox.contains(&format!("policy version {}", open.policy_version)),
        "{inbox}"
    );
    assert!(inbox.contains("Year 8 · form 8B"), "{inbox}");
    assert!(
        inbox.contains(&format!(r#"action="/inbox/{}/accept""#, open.id)),
        "{inbox}"
    );

    let accepted = post_form(
        &s.app,
        &client,
        &format!("/inbox/{}/accept", open.id),
        &[
            ("csrf_token", &csrf),
            ("note", "Talked to Amira's form tutor"),
        ],
    )
    .await;

    assert_eq!(accepted.status(), StatusCode::SEE_OTHER);
    assert_eq!(level_of(&s.app, &s.amira), Level::Time.number());
    let decided = suggestion(&s.app, open.id);
    assert_eq!(decided.status, "accepted");
    assert_eq!(
        decided.decision_note.as_deref(),
        Some("Talked to Amira's form tutor")
    );
    let changes = level_changes(&s.app, &s.amira);
    let change = changes.last().expect("a level change");
    assert_eq!(change.suggestion_id, Some(open.id));
    assert_eq!((change.from_level, change.to_level), (2, 3));
    let meetings = meetings(&s.app, &s.amira);
    assert_eq!(meetings.len(), 1, "{meetings:?}");
    let meeting = &meetings[0];
    assert_eq!((meeting.level, meeting.status.as_str()), (3, "due"));
    let rules = steadfast::db::evaluation::load_rules(&mut s.app.conn(), s.school.id)
        .expect("the school's rules");
    let expected = rules
        .policy
        .meeting_due_on(
            &rules.calendar,
            SchoolCalendar::local_date(Utc::now()),
            Level::Time,
        )
        .expect("Coaching Time has a meeting");
    assert_eq!(meeting.due_on, expected);
    assert_eq!(
        location(&accepted),
        format!("/inbox?decided={}&meeting={}", open.id, meeting.id)
    );

    let (status, confirmed) = page(&s.app, &client, &location(&accepted)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        confirmed.contains(
            "Accepted for Amira Okafor: stepped up from Coaching Conversation to Coaching Time."
        ),
        "{confirmed}"
    );
    let due = format!(
        "A Coaching Time meeting is now due, by {}.",
        expected.format("%a %-d %b %Y")
    );
    assert!(confirmed.contains(&due), "{confirmed}");
    assert!(
        !confirmed.contains(&card(open.id)),
        "decided: no longer listed"
    );
}

async fn decline_needs_a_reason(engine: Engine) {
    let s = arrange(engine).await;
    let (open, _) = serious_incident_for_amira(&s).await;
    let (client, csrf) = signed_in(&s.app, HEAD_OF_YEAR_8).await;
    let path = format!("/inbox/{}/decline", open.id);

    let missing = post_form(
        &s.app,
        &client,
        &path,
        &[("csrf_token", &csrf), ("reason", "  ")],
    )
    .await;

    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    let shown = missing.text().await.expect("the inbox");
    let slot = format!(
        r#"id="error-decline-{}-reason" data-error-for="reason" role="alert">reason is required: say why</p>"#,
        open.id
    );
    assert!(
        shown.contains(&slot),
        "the message sits next to the card's field: {shown}"
    );
    assert!(shown.contains(&card(open.id)), "{shown}");
    assert!(
        shown.contains("<details class=\"decline\" open>"),
        "{shown}"
    );
    assert_eq!(suggestion(&s.app, open.id).status, "open");
    assert_eq!(level_of(&s.app, &s.amira), Level::Conversation.number());

    let declined = post_form(
        &s.app,
        &client,
        &path,
        &[
            ("csrf_token", &csrf),
            ("reason", "Already supported by the SENDCO"),
        ],
    )
    .await;

    assert_eq!(declined.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&declined), format!("/inbox?decided={}", open.id));
    let row = suggestion(&s.app, open.id);
    assert_eq!(row.status, "declined");
    assert_eq!(
        row.decision_note.as_deref(),
        Some("Already supported by the SENDCO")
    );
    assert_eq!(level_of(&s.app, &s.amira), Level::Conversation.number());
    assert!(meetings(&s.app, &s.amira).is_empty());
    let (_, confirmed) = page(&s.app, &client, &location(&declined)).await;
    assert!(
        confirmed.contains("Declined for Amira Okafor: a step up to Coaching Time was not made; they stay at Coaching Conversation."),
        "{confirmed}"
    );
}

async fn snooze_hides_it_until_the_date(engine: Engine) {
    let s = arrange(engine).await;
    let (open, _) = serious_incident_for_amira(&s).await;
    let (client, csrf) = signed_in(&s.app, HEAD_OF_YEAR_8).await;
    let path = format!("/inbox/{}/snooze", open.id);
    let today = SchoolCalendar::local_date(Utc::now());
    let tomorrow = today.checked_add_days(Days::new(1)).expect("tomorrow");

    let too_soon = post_form(
        &s.app,
        &client,
        &path,
        &[("csrf_token", &csrf), ("until", &today.to_string())],
    )
    .await;
    assert_eq!(too_soon.status(), StatusCode::BAD_REQUEST);
    let shown = too_soon.text().await.expect("the inbox");
    assert!(
        shown.contains(&format!(
            r#"id="error-snooze-{}-until" data-error-for="until" role="alert">snooze until a later date"#,
            open.id
        )),
        "{shown}"
    );
    assert_eq!(suggestion(&s.app, open.id).snoozed_until, None);

    let snoozed = post_form(
        &s.app,
        &client,
        &path,
        &[("csrf_token", &csrf), ("until", &tomorrow.to_string())],
    )
    .await;

    assert_eq!(snoozed.status(), StatusCode::SEE_OTHER);
    assert_eq!(suggestion(&s.app, open.id).snoozed_until, Some(tomorrow));
    let (_, confirmed) = page(&s.app, &client, &location(&snoozed)).await;
    assert!(
        confirmed.contains("Snoozed for Amira Okafor until"),
        "{confirmed}"
    );
    assert!(!confirmed.contains(&card(open.id)), "hidden: {confirmed}");
    assert!(
        confirmed.contains(r#"href="/inbox?snoozed=1">Show snoozed (1)"#),
        "{confirmed}"
    );
    let (_, with_snoozed) = page(&s.app, &client, "/inbox?snoozed=1").await;
    assert!(with_snoozed.contains(&card(open.id)), "{with_snoozed}");
    assert!(with_snoozed.contains("snoozed until"), "{with_snoozed}");

    // On the date, it is back.
    diesel::update(schema::suggestions::table.find(open.id))
        .set(schema::suggestions::snoozed_until.eq(Some(today)))
        .execute(&mut *s.app.conn())
        .expect("the date comes");
    let (_, back) = page(&s.app, &client, "/inbox").await;
    assert!(back.contains(&card(open.id)), "{back}");
}

async fn deciding_a_decided_suggestion_is_a_conflict(engine: Engine) {
    let s = arrange(engine).await;
    let (open, _) = serious_incident_for_amira(&s).await;
    let (client, csrf) = signed_in(&s.app, HEAD_OF_YEAR_8).await;
    let (slt, slt_csrf) = signed_in(&s.app, SLT).await;
    let path = format!("/inbox/{}/accept", open.id);
    let first = post_form(&s.app, &client, &path, &[("csrf_token", &csrf)]).await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    let changes = level_changes(&s.app, &s.amira).len();

    let again = post_form(&s.app, &slt, &path, &[("csrf_token", &slt_csrf)]).await;

    assert_eq!(again.status(), StatusCode::CONFLICT);
    let shown = again.text().await.expect("the inbox");
    assert!(
        shown.contains("Amira Okafor: this suggestion was accepted already: nothing was changed. It was accepted by Hana Head on"),
        "{shown}"
    );
    assert_eq!(
        level_changes(&s.app, &s.amira).len(),
        changes,
        "no second change"
    );
    assert_eq!(level_of(&s.app, &s.amira), Level::Time.number());
    assert_eq!(meetings(&s.app, &s.amira).len(), 1);
    let decline = post_form(
        &s.app,
        &slt,
        &format!("/inbox/{}/decline", open.id),
        &[("csrf_token", &slt_csrf), ("reason", "Too late")],
    )
    .await;
    assert_eq!(decline.status(), StatusCode::CONFLICT);
    assert_eq!(suggestion(&s.app, open.id).status, "accepted");
}

async fn a_manual_step_down_needs_a_reason(engine: Engine) {
    let s = arrange(engine).await;
    set_level(&s.app, &s.amira, Level::Conversation);
    let (client, csrf) = signed_in(&s.app, HEAD_OF_YEAR_8).await;
    let pupil_page = format!("/pupils/{}", s.amira.id);
    let path = format!("{pupil_page}/level");

    let (_, shown) = page(&s.app, &client, &pupil_page).await;
    assert!(shown.contains("Change level"), "{shown}");
    assert!(
        shown.contains(r#"name="to" value="1">Step down to Coaching Prompt"#),
        "{shown}"
    );
    assert!(
        shown.contains(r#"name="to" value="3">Step up to Coaching Time"#),
        "{shown}"
    );
    assert!(shown.contains("Close support"), "{shown}");
    assert!(
        !shown.contains("Override the sequence"),
        "not for a Head of Year: {shown}"
    );

    let missing = post_form(
        &s.app,
        &client,
        &path,
        &[("csrf_token", &csrf), ("to", "1"), ("reason", "")],
    )
    .await;

    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    let refused = missing.text().await.expect("the pupil page");
    assert!(
        refused.contains(r#"id="error-level-reason" data-error-for="reason" role="alert">reason is required: say why</p>"#),
        "{refused}"
    );
    assert_eq!(level_of(&s.app, &s.amira), Level::Conversation.number());
    assert!(level_changes(&s.app, &s.amira).is_empty());

    let stepped = post_form(
        &s.app,
        &client,
        &path,
        &[
            ("csrf_token", &csrf),
            ("to", "1"),
            ("reason", "Calm for three weeks"),
        ],
    )
    .await;

    assert_eq!(stepped.status(), StatusCode::SEE_OTHER);
    assert_eq!(level_of(&s.app, &s.amira), Level::Prompt.number());
    let change = level_changes(&s.app, &s.amira).pop().expect("the move");
    assert_eq!(
        (change.from_level, change.to_level, change.is_override),
        (2, 1, false)
    );
    assert_eq!(change.reason, "Calm for three weeks");
    assert_eq!(
        location(&stepped),
        format!("{pupil_page}?moved={}#level", change.id)
    );
    let (_, after) = page(
        &s.app,
        &client,
        &format!("{pupil_page}?moved={}", change.id),
    )
    .await;
    assert!(
        after.contains("Amira Okafor: stepped down from Coaching Conversation to Coaching Prompt."),
        "{after}"
    );
    assert!(after.contains("Stepped down"), "{after}");
    assert!(after.contains("Calm for three weeks"), "{after}");
}

async fn programme_before_plan_is_refused(engine: Engine) {
    let s = arrange(engine).await;
    set_level(&s.app, &s.amira, Level::Time);
    let (client, csrf) = signed_in(&s.app, HEAD_OF_YEAR_8).await;

    let refused = post_form(
        &s.app,
        &client,
        &format!("/pupils/{}/level", s.amira.id),
        &[
            ("csrf_token", &csrf),
            ("to", "5"),
            ("reason", "Straight to a programme"),
        ],
    )
    .await;

    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let shown = refused.text().await.expect("the pupil page");
    assert!(
        shown
            .contains("Nothing was changed: a Coaching Programme can only follow a Coaching Plan."),
        "{shown}"
    );
    assert_eq!(level_of(&s.app, &s.amira), Level::Time.number());
    assert!(level_changes(&s.app, &s.amira).is_empty());
    assert!(meetings(&s.app, &s.amira).is_empty());
}

async fn an_slt_override_with_a_reason_is_marked_on_the_timeline(engine: Engine) {
    let s = arrange(engine).await;
    set_level(&s.app, &s.amira, Level::Conversation);
    let path = format!("/pupils/{}/level", s.amira.id);

    // Not for a Head of Year.
    let (head, head_csrf) = signed_in(&s.app, HEAD_OF_YEAR_8).await;
    let refused = post_form(
        &s.app,
        &head,
        &path,
        &[
            ("csrf_token", &head_csrf),
            ("to", "4"),
            ("reason", "x"),
            ("override", "1"),
        ],
    )
    .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);

    let (client, csrf) = signed_in(&s.app, SLT).await;
    let (_, shown) = page(&s.app, &client, &format!("/pupils/{}", s.amira.id)).await;
    assert!(
        shown.contains("Override the sequence (SLT or SENDCO)"),
        "{shown}"
    );
    let no_reason = post_form(
        &s.app,
        &client,
        &path,
        &[
            ("csrf_token", &csrf),
            ("to", "4"),
            ("reason", " "),
            ("override", "1"),
        ],
    )
    .await;
    assert_eq!(no_reason.status(), StatusCode::BAD_REQUEST);
    let again = no_reason.text().await.expect("the pupil page");
    assert!(
        again
            .contains(r#"id="error-override-reason" data-error-for="reason" role="alert">reason is required: say why</p>"#),
        "{again}"
    );
    assert!(level_changes(&s.app, &s.amira).is_empty());

    let overridden = post_form(
        &s.app,
        &client,
        &path,
        &[
            ("csrf_token", &csrf),
            ("to", "4"),
            ("reason", "Agreed with the family and the SENDCO"),
            ("override", "1"),
        ],
    )
    .await;

    assert_eq!(overridden.status(), StatusCode::SEE_OTHER);
    assert_eq!(level_of(&s.app, &s.amira), Level::Plan.number());
    let change = level_changes(&s.app, &s.amira).pop().expect("the override");
    assert!(change.is_override);
    assert_eq!((change.from_level, change.to_level), (2, 4));
    let meeting = meetings(&s.app, &s.amira).pop().expect("the plan meeting");
    assert_eq!((meeting.level, meeting.status.as_str()), (4, "due"));
    let (_, after) = page(&s.app, &client, &location(&overridden)).await;
    assert!(
        after.contains(
            "Amira Okafor: stepped up from Coaching Conversation to Coaching Plan (an override)."
        ),
        "{after}"
    );
    assert!(
        after.contains("A Coaching Plan meeting is now due, by"),
        "{after}"
    );
    assert!(after.contains("Override: SLT/SENDCO decision"), "{after}");
    assert!(
        after.contains("Agreed with the family and the SENDCO"),
        "{after}"
    );
    let audited: i64 = schema::audit_log::table
        .filter(schema::audit_log::action.eq("pupil.override"))
        .count()
        .get_result(&mut *s.app.conn())
        .expect("the audit log");
    assert_eq!(audited, 1);
}

/// Stores an incident of the school directly (no rules run), answering its id.
fn incident(app: &TestApp, school: &School, severity: &str) -> i64 {
    let reporter: i64 = schema::staff::table
        .filter(schema::staff::email.eq(TEACHER))
        .select(schema::staff::id)
        .first(&mut *app.conn())
        .expect("the teacher");
    let at = (Utc::now() - TimeDelta::minutes(30)).naive_utc();
    diesel::insert_into(schema::incidents::table)
        .values((
            schema::incidents::school_id.eq(school.id),
            schema::incidents::reported_by.eq(reporter),
            schema::incidents::occurred_at.eq(at),
            schema::incidents::behaviour.eq(format!("A {severity} behaviour")),
            schema::incidents::severity.eq(severity),
            schema::incidents::response.eq("none"),
            schema::incidents::created_at.eq(at),
        ))
        .returning(schema::incidents::id)
        .get_result(&mut *app.conn())
        .expect("storing an incident")
}

/// Gives a stored suggestion its evidence and an age in minutes.
fn with_evidence(app: &TestApp, id: i64, evidence: &[i64], minutes_old: i64) {
    let created = (Utc::now() - TimeDelta::minutes(minutes_old)).naive_utc();
    diesel::update(schema::suggestions::table.find(id))
        .set((
            schema::suggestions::evidence.eq(json!(evidence).to_string()),
            schema::suggestions::created_at.eq(created),
        ))
        .execute(&mut *app.conn())
        .expect("updating the suggestion");
}

async fn the_most_urgent_come_first(engine: Engine) {
    let s = arrange(engine).await;
    let cara = s
        .app
        .create_pupil(&s.school, "C123456789012", "Cara", "Dunn", 8, "8B");
    let dev = s
        .app
        .create_pupil(&s.school, "D123456789012", "Dev", "Eze", 8, "8B");
    set_level(&s.app, &s.amira, Level::Time);
    set_level(&s.app, &s.yusuf, Level::Time);
    set_level(&s.app, &cara, Level::Conversation);
    set_level(&s.app, &dev, Level::Conversation);
    let step_down = suggest(
        &s.app,
        &s.school,
        &s.amira,
        Level::Time,
        Level::Conversation,
    );
    with_evidence(&s.app, step_down, &[], 50);
    let to_plan = suggest(&s.app, &s.school, &s.yusuf, Level::Time, Level::Plan);
    with_evidence(&s.app, to_plan, &[], 5);
    let minor = incident(&s.app, &s.school, "minor");
    let to_time_older = suggest(&s.app, &s.school, &cara, Level::Conversation, Level::Time);
    with_evidence(&s.app, to_time_older, &[minor], 40);
    let serious = incident(&s.app, &s.school, "serious");
    let to_time_serious = suggest(&s.app, &s.school, &dev, Level::Conversation, Level::Time);
    with_evidence(&s.app, to_time_serious, &[serious], 10);
    let (client, _) = signed_in(&s.app, SLT).await;

    let (_, inbox) = page(&s.app, &client, "/inbox").await;

    let at = |id: i64| {
        inbox
            .find(&card(id))
            .unwrap_or_else(|| panic!("suggestion {id} listed: {inbox}"))
    };
    let order = [to_plan, to_time_serious, to_time_older, step_down];
    let positions: Vec<usize> = order.iter().map(|id| at(*id)).collect();
    let mut sorted = positions.clone();
    sorted.sort_unstable();
    assert_eq!(
        positions, sorted,
        "higher level, serious evidence, oldest, steps down last"
    );
    assert!(inbox.contains("A serious behaviour"), "{inbox}");
    assert!(
        inbox.contains("4 suggestions waiting for your decision"),
        "{inbox}"
    );
}

/// The suggestion ids of the cards an inbox page shows.
fn cards_on(html: &str) -> Vec<i64> {
    let mut ids: Vec<i64> = html
        .split(r#"id="suggestion-"#)
        .skip(1)
        .filter_map(|rest| rest.split('"').next()?.parse().ok())
        .collect();
    ids.sort_unstable();
    ids
}

async fn snooze_is_at_most_the_policys_longest_snooze(engine: Engine) {
    let s = arrange(engine).await;
    let (open, _) = serious_incident_for_amira(&s).await;
    let (client, csrf) = signed_in(&s.app, HEAD_OF_YEAR_8).await;
    let path = format!("/inbox/{}/snooze", open.id);
    let today = SchoolCalendar::local_date(Utc::now());
    let calendar = SchoolCalendar::weekdays_only();
    let latest = EscalationPolicy::default().latest_snooze(&calendar, today);
    assert_eq!(calendar.school_days_between(today, latest), 20);

    let (_, inbox) = page(&s.app, &client, "/inbox").await;
    assert!(
        inbox.contains(&format!(r#"max="{latest}""#)),
        "the date field offers no later date: {inbox}"
    );
    let day_after = latest.succ_opt().expect("a later date").to_string();
    for until in ["9999-12-31", day_after.as_str()] {
        let refused = post_form(
            &s.app,
            &client,
            &path,
            &[("csrf_token", &csrf), ("until", until)],
        )
        .await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{until}");
        let shown = refused.text().await.expect("the inbox");
        assert!(
            shown.contains(&format!(
                r#"id="error-snooze-{}-until" data-error-for="until" role="alert">snooze until {latest} at the latest: the school's policy allows 20 school days"#,
                open.id
            )),
            "{until}: {shown}"
        );
        assert_eq!(suggestion(&s.app, open.id).snoozed_until, None);
    }

    // A shorter longest snooze, set on the policy page, counts at once.
    let (slt, slt_csrf) = signed_in(&s.app, SLT).await;
    let mut fields = vec![
        ("csrf_token".to_string(), slt_csrf),
        ("version".to_string(), "1".to_string()),
        ("weeks".to_string(), "6".to_string()),
        ("action".to_string(), "save".to_string()),
    ];
    let defaults = EscalationPolicy::default();
    for field in EscalationPolicy::fields() {
        let value = match field.name {
            "longest_snooze_days" => 5,
            name => defaults.get(name).expect("a figure"),
        };
        fields.push((field.name.to_string(), value.to_string()));
    }
    let saved = slt
        .post(s.app.url("/admin/policy"))
        .form(&fields)
        .send()
        .await
        .expect("an answer");
    assert_eq!(saved.status(), StatusCode::SEE_OTHER, "the policy is saved");
    let shorter = calendar.add_school_days(today, 5);
    let refused = post_form(
        &s.app,
        &client,
        &path,
        &[("csrf_token", &csrf), ("until", &latest.to_string())],
    )
    .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let shown = refused.text().await.expect("the inbox");
    assert!(
        shown.contains(&format!("snooze until {shorter} at the latest")),
        "{shown}"
    );

    let snoozed = post_form(
        &s.app,
        &client,
        &path,
        &[("csrf_token", &csrf), ("until", &shorter.to_string())],
    )
    .await;
    assert_eq!(snoozed.status(), StatusCode::SEE_OTHER);
    assert_eq!(suggestion(&s.app, open.id).snoozed_until, Some(shorter));
}

async fn the_api_lists_the_suggestions_the_inbox_shows(engine: Engine) {
    let s = arrange(engine).await;
    set_level(&s.app, &s.amira, Level::Prompt);
    set_level(&s.app, &s.yusuf, Level::Plan);
    let mut everything = vec![
        suggest(
            &s.app,
            &s.school,
            &s.amira,
            Level::Prompt,
            Level::Conversation,
        ),
        suggest(&s.app, &s.school, &s.yusuf, Level::Plan, Level::Programme),
    ];
    everything.sort_unstable();
    let admin = s.app.create_staff(
        &s.school,
        "ada@north.example",
        "Ada Admin",
        &[Role::Admin],
        Some(PASSWORD),
    );
    let admin_hoy = s.app.create_staff(
        &s.school,
        "abe@north.example",
        "Abe Admin",
        &[Role::Admin, Role::PastoralLead],
        Some(PASSWORD),
    );
    lead_year(&s.app, &s.school, &admin_hoy, 8);

    let mut seen = Vec::new();
    for email in [
        HEAD_OF_YEAR_8,
        SENDCO,
        SLT,
        "abe@north.example",
        "ada@north.example",
    ] {
        let address = steadfast::domain::details::EmailAddress::parse(email).expect("an email");
        let member = steadfast::db::staff::by_email(&mut s.app.conn(), &address)
            .expect("reading staff")
            .expect("the member");
        let token = s.app.create_token(&member);
        let (client, _) = signed_in(&s.app, email).await;
        let (page_status, html) = page(&s.app, &client, "/inbox").await;
        let (api_status, body) = s
            .app
            .api_get("/api/v1/suggestions?status=open", &token)
            .await;
        assert_eq!(page_status, api_status, "{email}: {body}");
        if page_status != StatusCode::OK {
            seen.push((email, None));
            continue;
        }
        let mut listed: Vec<i64> = body["suggestions"]
            .as_array()
            .expect("a list")
            .iter()
            .filter_map(|s| s["id"].as_i64())
            .collect();
        listed.sort_unstable();
        assert_eq!(
            listed,
            cards_on(&html),
            "{email}: the API lists what the inbox shows"
        );
        seen.push((email, Some(listed)));
    }
    let (amira, yusuf) = (everything[0], everything[1]);
    assert_eq!(
        seen,
        vec![
            (HEAD_OF_YEAR_8, Some(vec![amira])),
            (SENDCO, Some(vec![yusuf])),
            (SLT, Some(everything.clone())),
            ("abe@north.example", Some(vec![amira])),
            ("ada@north.example", None),
        ]
    );
    assert_eq!(admin.roles, vec![Role::Admin]);
}

/// A pupil with no level and a suggestion waiting: the current-level card says what is
/// suggested instead of "not receiving support" (issue 17).
async fn no_level_with_a_suggestion_waiting_says_so(engine: Engine) {
    let s = arrange(engine).await;
    suggest(&s.app, &s.school, &s.amira, Level::None, Level::Time);
    let (client, _) = signed_in(&s.app, HEAD_OF_YEAR_8).await;

    let (_, shown) = page(&s.app, &client, &format!("/pupils/{}", s.amira.id)).await;

    assert!(
        shown
            .contains("No support level yet: Coaching Time is suggested and waits for a decision."),
        "{shown}"
    );
    assert!(
        !shown.contains("<p>The pupil is not receiving support"),
        "{shown}"
    );
    assert!(shown.contains("Waiting for a decision"), "{shown}");
}

/// The step-up button names the suggested level, not the next one up, and pressing it
/// accepts the suggestion (issue 17: "Step up to Coaching Prompt" beside a suggested
/// Coaching Conversation).
async fn the_step_up_names_the_suggested_level_and_accepts_it(engine: Engine) {
    let s = arrange(engine).await;
    let id = suggest(
        &s.app,
        &s.school,
        &s.amira,
        Level::None,
        Level::Conversation,
    );
    let (client, csrf) = signed_in(&s.app, HEAD_OF_YEAR_8).await;
    let pupil_page = format!("/pupils/{}", s.amira.id);

    let (_, shown) = page(&s.app, &client, &pupil_page).await;

    assert!(
        shown.contains(r#"name="to" value="2">Step up to Coaching Conversation"#),
        "{shown}"
    );
    assert!(!shown.contains("Step up to Coaching Prompt"), "{shown}");
    assert!(
        shown.contains("Stepping up accepts the suggestion waiting for a decision."),
        "{shown}"
    );

    let stepped = post_form(
        &s.app,
        &client,
        &format!("{pupil_page}/level"),
        &[
            ("csrf_token", &csrf),
            ("to", "2"),
            ("reason", "As suggested"),
        ],
    )
    .await;

    assert_eq!(stepped.status(), StatusCode::SEE_OTHER);
    assert_eq!(level_of(&s.app, &s.amira), Level::Conversation.number());
    assert_eq!(suggestion(&s.app, id).status, "accepted");
    let change = level_changes(&s.app, &s.amira).pop().expect("the move");
    assert_eq!((change.from_level, change.to_level), (0, 2));
    assert_eq!(change.suggestion_id, Some(id));
    let (_, after) = page(&s.app, &client, &location(&stepped)).await;
    assert!(
        after.contains("Amira Okafor: placed at Coaching Conversation."),
        "{after}"
    );
}

/// A Coaching Programme kept on for its next block is a level change from 5 to 5: the
/// timeline names it, never "Stepped down from Coaching Programme to Coaching Programme".
async fn the_next_programme_block_reads_as_such_on_the_timeline(engine: Engine) {
    let s = arrange(engine).await;
    set_level(&s.app, &s.amira, Level::Programme);
    diesel::insert_into(schema::level_changes::table)
        .values((
            schema::level_changes::school_id.eq(s.school.id),
            schema::level_changes::pupil_id.eq(s.amira.id),
            schema::level_changes::from_level.eq(Level::Programme.number()),
            schema::level_changes::to_level.eq(Level::Programme.number()),
            schema::level_changes::reason.eq("Continue with the next block (block review)"),
            schema::level_changes::is_override.eq(false),
            schema::level_changes::occurred_at.eq(Utc::now().naive_utc()),
        ))
        .execute(&mut *s.app.conn())
        .expect("storing the next block");
    let (client, _) = signed_in(&s.app, HEAD_OF_YEAR_8).await;

    let (_, shown) = page(&s.app, &client, &format!("/pupils/{}", s.amira.id)).await;

    assert!(
        shown.contains("Moved on to the next Coaching Programme block"),
        "{shown}"
    );
    assert!(!shown.contains("Stepped down"), "{shown}");
}

/// The specialist practitioner's home shows the pupils whose programme they deliver, not
/// every pupil of the school on a programme.
async fn the_specialists_home_shows_only_their_programme_pupils(engine: Engine) {
    let s = arrange(engine).await;
    let specialist = s.app.create_staff(
        &s.school,
        "pip@north.example",
        "Pip Practitioner",
        &[Role::Specialist],
        Some(PASSWORD),
    );
    set_level(&s.app, &s.amira, Level::Programme);
    set_level(&s.app, &s.yusuf, Level::Programme);
    let today = SchoolCalendar::local_date(Utc::now());
    let now = Utc::now().naive_utc();
    diesel::insert_into(schema::programme_blocks::table)
        .values((
            schema::programme_blocks::school_id.eq(s.school.id),
            schema::programme_blocks::pupil_id.eq(s.amira.id),
            schema::programme_blocks::weeks.eq(2i16),
            schema::programme_blocks::starts_on.eq(today),
            schema::programme_blocks::ends_on.eq(today + Days::new(14)),
            schema::programme_blocks::sessions_per_week.eq(3),
            schema::programme_blocks::weekdays.eq("mon,wed,fri"),
            schema::programme_blocks::minutes.eq(30),
            schema::programme_blocks::place.eq("school"),
            schema::programme_blocks::led_by.eq("specialist_staff"),
            schema::programme_blocks::practitioner_id.eq(Some(specialist.id)),
            schema::programme_blocks::practitioner_name.eq(Some("Pip Practitioner")),
            schema::programme_blocks::lost_to_closures.eq("[]"),
            schema::programme_blocks::status.eq("running"),
            schema::programme_blocks::created_by.eq(specialist.id),
            schema::programme_blocks::created_at.eq(now),
        ))
        .execute(&mut *s.app.conn())
        .expect("storing Amira's block");
    let (client, _) = signed_in(&s.app, "pip@north.example").await;

    let (_, home) = page(&s.app, &client, "/").await;

    assert!(home.contains("Your Coaching Programme pupils"), "{home}");
    assert!(home.contains("Amira Okafor"), "{home}");
    assert!(!home.contains("Yusuf Bell"), "{home}");
    assert!(
        !home.contains(r#"<td class="num">2</td>"#),
        "one programme pupil counted, not two: {home}"
    );
}

/// A booked meeting whose due day has passed is overdue on the home page as on `/meetings`
/// (and in the overdue email): one rule, with the overdue tag styled as a warning.
async fn overdue_is_the_same_on_home_and_meetings(engine: Engine) {
    let s = arrange(engine).await;
    set_level(&s.app, &s.amira, Level::Time);
    let today = SchoolCalendar::local_date(Utc::now());
    let now = Utc::now().naive_utc();
    diesel::insert_into(schema::meetings::table)
        .values((
            schema::meetings::school_id.eq(s.school.id),
            schema::meetings::pupil_id.eq(s.amira.id),
            schema::meetings::level.eq(Level::Time.number()),
            schema::meetings::due_on.eq(today - Days::new(3)),
            schema::meetings::status.eq("scheduled"),
            schema::meetings::starts_at.eq(Some(now - TimeDelta::days(4))),
            schema::meetings::duration_minutes.eq(Some(30)),
            schema::meetings::location.eq(Some("Room 4")),
            schema::meetings::parent_invited.eq(false),
            schema::meetings::created_at.eq(now - TimeDelta::days(6)),
        ))
        .execute(&mut *s.app.conn())
        .expect("storing a booked meeting");
    let (client, _) = signed_in(&s.app, HEAD_OF_YEAR_8).await;

    let (_, home) = page(&s.app, &client, "/").await;
    let (_, listed) = page(&s.app, &client, "/meetings").await;

    assert!(
        home.contains("<strong>1</strong><span>meetings overdue</span>"),
        "{home}"
    );
    assert!(
        home.contains("<strong>0</strong><span>meetings booked</span>"),
        "{home}"
    );
    assert!(
        home.contains(r#"<span class="tag warn">overdue: booked for"#),
        "{home}"
    );
    assert!(listed.contains("Amira"), "{listed}");
    assert!(listed.contains(r#"class="tag warn""#), "{listed}");
    let style = s
        .app
        .get_page(&client, "/static/style.css")
        .await
        .text()
        .await
        .expect("the style sheet");
    assert!(
        style.contains(".tag.warn {"),
        "the overdue tag has a warning style"
    );
}

both_engines!(
    no_level_with_a_suggestion_waiting_says_so,
    the_step_up_names_the_suggested_level_and_accepts_it,
    the_next_programme_block_reads_as_such_on_the_timeline,
    the_specialists_home_shows_only_their_programme_pupils,
    overdue_is_the_same_on_home_and_meetings,
    snooze_is_at_most_the_policys_longest_snooze,
    the_api_lists_the_suggestions_the_inbox_shows,
    a_head_of_year_sees_only_their_year_groups,
    the_sendco_sees_suggestions_to_levels_4_to_6_only,
    class_staff_get_403,
    accept_moves_the_pupil_and_creates_the_due_meeting,
    decline_needs_a_reason,
    snooze_hides_it_until_the_date,
    deciding_a_decided_suggestion_is_a_conflict,
    a_manual_step_down_needs_a_reason,
    programme_before_plan_is_refused,
    an_slt_override_with_a_reason_is_marked_on_the_timeline,
    the_most_urgent_come_first,
);
