//! Houses with Heads of House, and the school's own timetable, end to end on both engines: a
//! Head of House (a pastoral lead with a house and no year group) sees their house's open
//! suggestion, accepts it, runs its meeting, gets its email (and their digest) and sees their
//! house's insight, but decides nothing for another house's pupil; the houses page adds,
//! renames and removes houses; the timetable page saves a day's periods and refuses an overlap
//! at its field; the pattern report groups incidents by the school's own periods in London
//! time (summer and winter); and the incident form names the lesson period.

mod common;

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, TimeZone, Utc, Weekday};
use diesel::prelude::*;
use reqwest::StatusCode;

use common::{both_engines, csrf_token_in, location, page_client, spawn_app, Engine, Role};
use common::{TestApp, PASSWORD};
use steadfast::db::models::{School, SuggestionRow};
use steadfast::db::pupils::PupilView;
use steadfast::db::schema;
use steadfast::db::staff::StaffMember;
use steadfast::db::{evaluation, incidents, write_transaction};
use steadfast::domain::calendar::SCHOOL_TZ;
use steadfast::domain::incident::{IncidentSubmission, NewIncident};
use steadfast::domain::Level;
use steadfast::jobs::{self, JobContext};

const TEACHER: &str = "tess@north.example";
const HEAD_OF_RED: &str = "rhian@north.example";
const HEAD_OF_YEAR_9: &str = "hal@north.example";
const ADMIN: &str = "ada@north.example";
const SLT: &str = "sara@north.example";

/// A school with houses Red and Blue; a class teacher, the Head of Red house (added on the
/// command line, no year group), the Head of Year 9, an administrator and SLT; Amira in
/// Year 8 and Red, Yusuf in Year 9 and Blue, and Zara in Year 9 and Red.
struct Scene {
    app: TestApp,
    school: School,
    teacher: StaffMember,
    head_of_red: StaffMember,
    red: i64,
    blue: i64,
    amira: PupilView,
    yusuf: PupilView,
    zara: PupilView,
}

/// Puts a pupil in a house.
fn put_in_house(app: &TestApp, pupil: &PupilView, house: i64) {
    diesel::update(schema::pupils::table.find(pupil.id))
        .set(schema::pupils::house_id.eq(Some(house)))
        .execute(&mut *app.conn())
        .expect("putting the pupil in a house");
}

/// The id of the house called `name`.
fn house_id(app: &TestApp, school: &School, name: &str) -> i64 {
    schema::houses::table
        .filter(schema::houses::school_id.eq(school.id))
        .filter(schema::houses::name.eq(name))
        .select(schema::houses::id)
        .first(&mut *app.conn())
        .expect("the house")
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
    app.create_staff(&school, ADMIN, "Ada Admin", &[Role::Admin], Some(PASSWORD));
    app.create_staff(&school, SLT, "Sara Senior", &[Role::Slt], Some(PASSWORD));
    let amira = app.create_pupil(&school, "A123456789012", "Amira", "Okafor", 8, "8B");
    let yusuf = app.create_pupil(&school, "B123456789012", "Yusuf", "Bell", 9, "9C");
    let zara = app.create_pupil(&school, "C123456789012", "Zara", "N'Diaye", 9, "9C");
    app.create_staff_leading(
        &school,
        HEAD_OF_YEAR_9,
        "Hal Head",
        &[Role::PastoralLead],
        &[9],
        Some(PASSWORD),
    );

    // The houses, through their page.
    let (admin, csrf) = signed_in(&app, ADMIN).await;
    for name in ["Red", "Blue"] {
        let added = post_form(
            &app,
            &admin,
            "/admin/houses",
            &[("csrf_token", &csrf), ("name", name)],
        )
        .await;
        assert_eq!(added.status(), StatusCode::SEE_OTHER, "adding {name}");
    }
    let (red, blue) = (
        house_id(&app, &school, "Red"),
        house_id(&app, &school, "Blue"),
    );
    put_in_house(&app, &amira, red);
    put_in_house(&app, &yusuf, blue);
    put_in_house(&app, &zara, red);

    // The Head of Red house, on the command line.
    let added = app.cli(
        &[
            "user",
            "add",
            "--school",
            "NORTH",
            "--email",
            HEAD_OF_RED,
            "--name",
            "Rhian Head",
            "--role",
            "pastoral_lead",
            "--house",
            "red",
        ],
        PASSWORD,
    );
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let head_of_red =
        steadfast::db::staff::list(&mut app.conn(), school.id, Some(Role::PastoralLead))
            .expect("the pastoral leads")
            .into_iter()
            .find(|m| m.email == HEAD_OF_RED)
            .expect("the Head of Red house");
    assert_eq!(head_of_red.houses, vec![red]);
    assert!(head_of_red.year_groups.is_empty());
    Scene {
        app,
        school,
        teacher,
        head_of_red,
        red,
        blue,
        amira,
        yusuf,
        zara,
    }
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

/// Puts a pupil at `level` since an hour ago, as earlier decisions would have.
fn set_level(app: &TestApp, pupil: &PupilView, level: Level) {
    let since = (Utc::now() - TimeDelta::hours(1)).naive_utc();
    diesel::update(schema::pupils::table.find(pupil.id))
        .set((
            schema::pupils::level.eq(level.number()),
            schema::pupils::level_since.eq(since),
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
            schema::suggestions::rule.eq("incidents_after_conversation"),
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

fn suggestion(app: &TestApp, id: i64) -> SuggestionRow {
    schema::suggestions::table
        .find(id)
        .select(SuggestionRow::as_select())
        .first(&mut *app.conn())
        .expect("the suggestion")
}

fn card(id: i64) -> String {
    format!(r#"id="suggestion-{id}""#)
}

/// The recipients and topics of the school's emails, in the order queued.
fn emails(app: &TestApp) -> Vec<(String, String, String)> {
    schema::outbox::table
        .order(schema::outbox::id)
        .select((
            schema::outbox::recipient,
            schema::outbox::topic,
            schema::outbox::status,
        ))
        .load(&mut *app.conn())
        .expect("the outbox")
}

/// The open meeting of a pupil.
fn meeting_of(app: &TestApp, pupil: &PupilView) -> i64 {
    schema::meetings::table
        .filter(schema::meetings::pupil_id.eq(pupil.id))
        .select(schema::meetings::id)
        .first(&mut *app.conn())
        .expect("the pupil's meeting")
}

async fn a_head_of_house_sees_and_decides_for_their_house(engine: Engine) {
    let s = arrange(engine).await;
    for pupil in [&s.amira, &s.yusuf] {
        set_level(&s.app, pupil, Level::Conversation);
    }
    let for_amira = suggest(
        &s.app,
        &s.school,
        &s.amira,
        Level::Conversation,
        Level::Time,
    );
    let for_yusuf = suggest(
        &s.app,
        &s.school,
        &s.yusuf,
        Level::Conversation,
        Level::Time,
    );

    let (client, csrf) = signed_in(&s.app, HEAD_OF_RED).await;
    let (_, home) = page(&s.app, &client, "/").await;
    assert!(home.contains("Your houses: Red"), "{home}");
    let (status, inbox) = page(&s.app, &client, "/inbox").await;
    assert_eq!(status, StatusCode::OK);
    assert!(inbox.contains(&card(for_amira)), "{inbox}");
    assert!(inbox.contains("Reason for Amira"), "{inbox}");
    assert!(!inbox.contains(&card(for_yusuf)), "{inbox}");
    assert!(!inbox.contains("Yusuf"), "{inbox}");
    assert!(!inbox.contains("You lead no year group"), "{inbox}");

    // Another house's pupil: refused, as for a Head of Year and another year.
    let refused = post_form(
        &s.app,
        &client,
        &format!("/inbox/{for_yusuf}/accept"),
        &[("csrf_token", &csrf)],
    )
    .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(suggestion(&s.app, for_yusuf).status, "open");
    let moved = post_form(
        &s.app,
        &client,
        &format!("/pupils/{}/level", s.yusuf.id),
        &[
            ("csrf_token", &csrf),
            ("to", "3"),
            ("reason", "Worried about him"),
        ],
    )
    .await;
    assert_eq!(moved.status(), StatusCode::FORBIDDEN);

    // Their own house's pupil: accepted, with the meeting it needs.
    let accepted = post_form(
        &s.app,
        &client,
        &format!("/inbox/{for_amira}/accept"),
        &[("csrf_token", &csrf)],
    )
    .await;
    assert_eq!(accepted.status(), StatusCode::SEE_OTHER);
    assert_eq!(suggestion(&s.app, for_amira).status, "accepted");
    let meeting = meeting_of(&s.app, &s.amira);
    assert_eq!(
        location(&accepted),
        format!("/inbox?decided={for_amira}&meeting={meeting}")
    );

    // The meeting is theirs to run: listed, and its page opens; another house's is not.
    let (_, meetings) = page(&s.app, &client, "/meetings").await;
    assert!(
        meetings.contains(&format!(r#"href="/meetings/{meeting}""#)),
        "{meetings}"
    );
    let (status, _) = page(&s.app, &client, &format!("/meetings/{meeting}")).await;
    assert_eq!(status, StatusCode::OK);
    let (slt, slt_csrf) = signed_in(&s.app, SLT).await;
    let for_yusuf_accepted = post_form(
        &s.app,
        &slt,
        &format!("/inbox/{for_yusuf}/accept"),
        &[("csrf_token", &slt_csrf)],
    )
    .await;
    assert_eq!(for_yusuf_accepted.status(), StatusCode::SEE_OTHER);
    let yusufs = meeting_of(&s.app, &s.yusuf);
    assert!(!page(&s.app, &client, "/meetings")
        .await
        .1
        .contains(&format!(r#"href="/meetings/{yusufs}""#)));
    let (status, _) = page(&s.app, &client, &format!("/meetings/{yusufs}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The pupil page offers them the level forms for their house's pupils only.
    let (_, amira_page) = page(&s.app, &client, &format!("/pupils/{}", s.amira.id)).await;
    assert!(
        amira_page.contains(&format!(r#"action="/pupils/{}/level""#, s.amira.id)),
        "{amira_page}"
    );
    let (_, yusuf_page) = page(&s.app, &client, &format!("/pupils/{}", s.yusuf.id)).await;
    assert!(!yusuf_page.contains(&format!(r#"action="/pupils/{}/level""#, s.yusuf.id)));

    // The meeting's due email goes to the Head of House, as it would to a Head of Year; the
    // Head of Year 9 is emailed for Yusuf, the Head of Red house is not.
    let sent = emails(&s.app);
    let to_head_of_red: Vec<&String> = sent
        .iter()
        .filter(|(to, _, _)| to == HEAD_OF_RED)
        .map(|(_, topic, _)| topic)
        .collect();
    assert_eq!(to_head_of_red.len(), 1, "{sent:?}");
    assert!(
        to_head_of_red[0].starts_with("Coaching Time meeting for Amira O., Year 8: due by"),
        "{sent:?}"
    );
    assert!(
        sent.iter().any(|(to, topic, _)| to == HEAD_OF_YEAR_9
            && topic.starts_with("Coaching Time meeting for Yusuf B., Year 9: due by")),
        "{sent:?}"
    );
    assert_eq!(
        sent.iter()
            .filter(|(to, _, _)| to == HEAD_OF_YEAR_9)
            .count(),
        1,
        "{sent:?}"
    );
}

async fn a_head_of_house_gets_their_digest(engine: Engine) {
    let s = arrange(engine).await;
    diesel::update(schema::staff::table.find(s.head_of_red.id))
        .set(schema::staff::digest_hour.eq(Some(16_i16)))
        .execute(&mut *s.app.conn())
        .expect("choosing a digest");
    set_level(&s.app, &s.zara, Level::Conversation);
    let for_zara = suggest(&s.app, &s.school, &s.zara, Level::Conversation, Level::Time);
    // Zara is in Year 9 and Red: her Head of Year decides, and both are told.
    let (client, csrf) = signed_in(&s.app, HEAD_OF_YEAR_9).await;
    let accepted = post_form(
        &s.app,
        &client,
        &format!("/inbox/{for_zara}/accept"),
        &[("csrf_token", &csrf)],
    )
    .await;
    assert_eq!(accepted.status(), StatusCode::SEE_OTHER);
    let held: Vec<(String, String, String)> = emails(&s.app)
        .into_iter()
        .filter(|(to, _, _)| to == HEAD_OF_RED)
        .collect();
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0].2, "held", "kept for the digest: {held:?}");

    let context = JobContext::from_settings(&s.app.settings).expect("a job context");
    let mut day = Utc::now().date_naive() + TimeDelta::days(1);
    while matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
        day += TimeDelta::days(1);
    }
    let four = SCHOOL_TZ
        .from_local_datetime(&day.and_hms_opt(16, 5, 0).expect("a time"))
        .earliest()
        .expect("a London time")
        .with_timezone(&Utc);
    let report = jobs::run_once(&s.app.db, &context, four)
        .await
        .expect("the jobs");
    assert_eq!(report.digests, 1, "{report}");
    let digests: Vec<(String, String, String)> = emails(&s.app)
        .into_iter()
        .filter(|(to, topic, _)| to == HEAD_OF_RED && topic == "Daily digest")
        .collect();
    assert_eq!(digests.len(), 1, "{digests:?}");
}

/// Logs an incident for `pupil` at `when`, as the teacher.
fn log(
    app: &TestApp,
    school: &School,
    teacher: &StaffMember,
    pupil: i64,
    when: DateTime<Utc>,
    behaviour: &str,
) {
    let new = NewIncident::parse(
        &IncidentSubmission {
            pupil_ids: &[pupil],
            behaviour,
            severity: Some("minor"),
            response: Some("none"),
            occurred_at: Some(when),
            ..Default::default()
        },
        when,
    )
    .expect("a valid incident");
    let school_id = school.id;
    write_transaction(&mut app.conn(), |c| {
        let rules = evaluation::load_rules(c, school_id)?;
        incidents::record(c, school_id, teacher.id, &new, &rules, when)
    })
    .expect("recording an incident");
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a date")
}

/// `hour:minute` London time on `day`.
fn at(day: NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
    SCHOOL_TZ
        .from_local_datetime(&day.and_hms_opt(hour, minute, 0).expect("a time"))
        .earliest()
        .expect("a London time")
        .with_timezone(&Utc)
}

/// The text of the element with this id (up to its first tag's end).
fn text_of_id(page: &str, id: &str) -> String {
    let start = page
        .find(&format!(r#"id="{id}""#))
        .unwrap_or_else(|| panic!("no {id} in {page}"));
    let rest = &page[start..];
    let open = rest.find('>').expect("a tag") + 1;
    let close = rest[open..].find('<').expect("an end");
    rest[open..open + close].to_string()
}

/// The part of a page from the element with this id to the next section.
fn section<'a>(page: &'a str, id: &str) -> &'a str {
    let start = page
        .find(&format!(r#"id="{id}""#))
        .unwrap_or_else(|| panic!("no {id} in {page}"));
    let rest = &page[start..];
    let end = rest[1..].find("<section").map_or(rest.len(), |i| i + 1);
    &rest[..end]
}

const RANGE: &str = "from=2025-11-10&to=2025-11-21";

async fn a_head_of_house_sees_their_houses_insight(engine: Engine) {
    let s = arrange(engine).await;
    log(
        &s.app,
        &s.school,
        &s.teacher,
        s.amira.id,
        at(date(2025, 11, 11), 10, 0),
        "Calling out",
    );
    log(
        &s.app,
        &s.school,
        &s.teacher,
        s.zara.id,
        at(date(2025, 11, 12), 10, 0),
        "Calling out",
    );
    log(
        &s.app,
        &s.school,
        &s.teacher,
        s.yusuf.id,
        at(date(2025, 11, 12), 11, 30),
        "Rough play",
    );
    let (client, _) = signed_in(&s.app, HEAD_OF_RED).await;

    // With no scope chosen, they see their house.
    let (status, report) = page(&s.app, &client, &format!("/insight?{RANGE}")).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert!(report.contains("Incidents for house Red"), "{report}");
    assert_eq!(text_of_id(&report, "total"), "2");
    assert_eq!(text_of_id(&report, "pupils"), "2");
    assert!(!report.contains("Rough play"), "{report}");
    let (status, _) = page(
        &s.app,
        &client,
        &format!("/insight?scope=house&house={}&{RANGE}", s.red),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // Another house, a year group and the school are not theirs.
    for path in [
        format!("/insight?scope=house&house={}&{RANGE}", s.blue),
        format!("/insight?scope=year&year=9&{RANGE}"),
        format!("/insight?scope=school&{RANGE}"),
        format!("/insight?scope=pupil&pupil={}&{RANGE}", s.yusuf.id),
        "/insight/ladder?scope=school".to_string(),
    ] {
        let (status, _) = page(&s.app, &client, &path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    // Their house's pupil, and the ladder and impact of their house.
    let (status, _) = page(
        &s.app,
        &client,
        &format!("/insight?scope=pupil&pupil={}&{RANGE}", s.amira.id),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, pupil_page) = page(&s.app, &client, &format!("/pupils/{}", s.amira.id)).await;
    assert!(
        pupil_page.contains(r#"id="incidents-over-time""#),
        "{pupil_page}"
    );
    let (status, ladder) = page(&s.app, &client, "/insight/ladder").await;
    assert_eq!(status, StatusCode::OK, "{ladder}");
    assert!(ladder.contains("Pupils of house Red"), "{ladder}");
    let (status, _) = page(&s.app, &client, "/insight/impact?scope=house").await;
    assert_eq!(status, StatusCode::OK);

    // SLT may choose the house too.
    let (slt, _) = signed_in(&s.app, SLT).await;
    let (status, blue) = page(
        &s.app,
        &slt,
        &format!("/insight?scope=house&house={}&{RANGE}", s.blue),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(text_of_id(&blue, "total"), "1");
    // Another school's house is not found.
    let other = s.app.create_school("SOUTH", "South Academy");
    let south =
        steadfast::db::schools::house(&mut s.app.conn(), other.id, "Green").expect("a house");
    let (status, _) = page(
        &s.app,
        &slt,
        &format!("/insight?scope=house&house={south}&{RANGE}"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn the_houses_page_adds_renames_and_removes(engine: Engine) {
    let s = arrange(engine).await;
    let (admin, csrf) = signed_in(&s.app, ADMIN).await;
    let (status, listed) = page(&s.app, &admin, "/admin/houses").await;
    assert_eq!(status, StatusCode::OK);
    assert!(listed.contains("Head of House: Rhian Head"), "{listed}");
    assert!(listed.contains("2 pupils"), "{listed}");

    // A second house of the same name is refused at its field, the name kept.
    let twice = post_form(
        &s.app,
        &admin,
        "/admin/houses",
        &[("csrf_token", &csrf), ("name", "red")],
    )
    .await;
    assert_eq!(twice.status(), StatusCode::CONFLICT);
    let shown = twice.text().await.expect("the page");
    assert!(shown.contains(r#"data-error-for="name""#), "{shown}");
    assert!(
        shown.contains("there is a house called red already"),
        "{shown}"
    );
    assert!(shown.contains(r#"value="red""#), "{shown}");

    // Added, renamed with an apostrophe kept, removed.
    let added = post_form(
        &s.app,
        &admin,
        "/admin/houses",
        &[("csrf_token", &csrf), ("name", "Green")],
    )
    .await;
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    let green = house_id(&s.app, &s.school, "Green");
    let renamed = post_form(
        &s.app,
        &admin,
        &format!("/admin/houses/{green}"),
        &[("csrf_token", &csrf), ("name", "St Aidan's")],
    )
    .await;
    assert_eq!(renamed.status(), StatusCode::SEE_OTHER);
    assert_eq!(house_id(&s.app, &s.school, "St Aidan's"), green);
    let removed = post_form(
        &s.app,
        &admin,
        &format!("/admin/houses/{green}/remove"),
        &[("csrf_token", &csrf)],
    )
    .await;
    assert_eq!(removed.status(), StatusCode::SEE_OTHER);
    let left: i64 = schema::houses::table
        .filter(schema::houses::school_id.eq(s.school.id))
        .count()
        .get_result(&mut *s.app.conn())
        .expect("counting houses");
    assert_eq!(left, 2);

    // A house with pupils stays, and so does its Head of House.
    let refused = post_form(
        &s.app,
        &admin,
        &format!("/admin/houses/{}/remove", s.red),
        &[("csrf_token", &csrf)],
    )
    .await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    let shown = refused.text().await.expect("the page");
    assert!(shown.contains("2 pupils are in this house"), "{shown}");
    assert_eq!(house_id(&s.app, &s.school, "Red"), s.red);
    let audited: i64 = schema::audit_log::table
        .filter(schema::audit_log::entity.eq("house"))
        .count()
        .get_result(&mut *s.app.conn())
        .expect("the audit log");
    assert_eq!(
        audited, 5,
        "two added at the start, one added, renamed and removed"
    );

    // Class staff and pastoral leads do not keep the houses; another school's house is not found.
    let (teacher, _) = signed_in(&s.app, TEACHER).await;
    let (status, _) = page(&s.app, &teacher, "/admin/houses").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (lead, lead_csrf) = signed_in(&s.app, HEAD_OF_RED).await;
    let renamed = post_form(
        &s.app,
        &lead,
        &format!("/admin/houses/{}", s.red),
        &[("csrf_token", &lead_csrf), ("name", "Scarlet")],
    )
    .await;
    assert_eq!(renamed.status(), StatusCode::FORBIDDEN);
    let other = s.app.create_school("SOUTH", "South Academy");
    let south =
        steadfast::db::schools::house(&mut s.app.conn(), other.id, "Green").expect("a house");
    let renamed = post_form(
        &s.app,
        &admin,
        &format!("/admin/houses/{south}"),
        &[("csrf_token", &csrf), ("name", "Mine")],
    )
    .await;
    assert_eq!(renamed.status(), StatusCode::NOT_FOUND);

    // A Head of House for a house the school does not have is refused on the command line.
    let refused = s.app.cli(
        &[
            "user",
            "add",
            "--school",
            "NORTH",
            "--email",
            "x@north.example",
            "--name",
            "X Y",
            "--role",
            "pastoral_lead",
            "--house",
            "Purple",
        ],
        PASSWORD,
    );
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("--house: the school has no house called \"Purple\""),
        "{said}"
    );
    assert!(said.contains("Blue, Red"), "{said}");
}

/// The stored periods of the school: (weekday, name, start, end), in order.
fn stored_periods(app: &TestApp, school: &School) -> Vec<(i16, String, i16, i16)> {
    schema::lesson_periods::table
        .filter(schema::lesson_periods::school_id.eq(school.id))
        .order((
            schema::lesson_periods::weekday,
            schema::lesson_periods::starts_minute,
        ))
        .select((
            schema::lesson_periods::weekday,
            schema::lesson_periods::name,
            schema::lesson_periods::starts_minute,
            schema::lesson_periods::ends_minute,
        ))
        .load(&mut *app.conn())
        .expect("the periods")
}

/// Tuesday's own periods: registration, a double science lesson and lunch, with a gap.
fn tuesday_rows(csrf: &str) -> Vec<(&str, &str)> {
    vec![
        ("csrf_token", csrf),
        ("day", "tue"),
        ("name_1", "Registration"),
        ("starts_1", "08:30"),
        ("ends_1", "08:50"),
        ("name_2", "Double science"),
        ("starts_2", "09:00"),
        ("ends_2", "11:00"),
        ("name_3", "Lunch"),
        ("starts_3", "12:00"),
        ("ends_3", "13:00"),
    ]
}

async fn the_timetable_page_saves_periods_and_refuses_overlaps(engine: Engine) {
    let s = arrange(engine).await;
    let (admin, csrf) = signed_in(&s.app, ADMIN).await;
    let (status, shown) = page(&s.app, &admin, "/admin/timetable").await;
    assert_eq!(status, StatusCode::OK);
    assert!(shown.contains(r#"id="standard-timetable""#), "{shown}");
    assert!(shown.contains(r#"value="Period 1""#), "{shown}");
    assert!(stored_periods(&s.app, &s.school).is_empty());

    let saved = post_form(&s.app, &admin, "/admin/timetable/day", &tuesday_rows(&csrf)).await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&saved), "/admin/timetable#day-tue");
    let stored = stored_periods(&s.app, &s.school);
    // Tuesday's three, and the standard eight on each of the four other weekdays.
    assert_eq!(stored.len(), 3 + 4 * 8, "{stored:?}");
    let tuesday: Vec<_> = stored.iter().filter(|p| p.0 == 2).cloned().collect();
    assert_eq!(
        tuesday,
        vec![
            (2, "Registration".to_string(), 8 * 60 + 30, 8 * 60 + 50),
            (2, "Double science".to_string(), 9 * 60, 11 * 60),
            (2, "Lunch".to_string(), 12 * 60, 13 * 60),
        ]
    );
    let (_, shown) = page(&s.app, &admin, "/admin/timetable").await;
    assert!(shown.contains(r#"id="own-timetable""#), "{shown}");
    assert!(shown.contains(r#"value="Double science""#), "{shown}");

    // An overlap is refused at the later period's start, with what was typed kept.
    let mut overlapping = tuesday_rows(&csrf);
    overlapping[9] = ("starts_3", "10:30");
    let refused = post_form(&s.app, &admin, "/admin/timetable/day", &overlapping).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let shown = refused.text().await.expect("the page");
    let slot = shown
        .find(r#"data-error-for="starts_3""#)
        .unwrap_or_else(|| panic!("the problem at starts_3: {shown}"));
    let message = "overlaps Double science (09:00 to 11:00): start it at 11:00 or later";
    assert!(
        shown[slot..].starts_with(&format!(
            r#"data-error-for="starts_3" role="alert">{message}"#
        )),
        "{shown}"
    );
    assert!(shown.contains(r#"value="10:30""#), "{shown}");
    // An end before the start, likewise at its field; nothing changed.
    let mut backwards = tuesday_rows(&csrf);
    backwards[4] = ("ends_1", "08:10");
    let refused = post_form(&s.app, &admin, "/admin/timetable/day", &backwards).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(refused
        .text()
        .await
        .expect("the page")
        .contains("must be after its start (08:30)"));
    assert_eq!(stored_periods(&s.app, &s.school), stored);

    // Two weeks: every day twice, and the Monday of week A is needed.
    let refused = post_form(
        &s.app,
        &admin,
        "/admin/timetable/weeks",
        &[("csrf_token", &csrf), ("two_weeks", "on"), ("week_a", "")],
    )
    .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(refused
        .text()
        .await
        .expect("the page")
        .contains(r#"data-error-for="week_a" role="alert">give the date of a Monday in week A"#));
    let two = post_form(
        &s.app,
        &admin,
        "/admin/timetable/weeks",
        &[
            ("csrf_token", &csrf),
            ("two_weeks", "on"),
            ("week_a", "2025-09-03"),
        ],
    )
    .await;
    assert_eq!(two.status(), StatusCode::SEE_OTHER);
    let (_, shown) = page(&s.app, &admin, "/admin/timetable").await;
    assert!(shown.contains("Tuesday, week B"), "{shown}");
    assert!(shown.contains(r#"value="2025-09-01""#), "{shown}");
    assert_eq!(stored_periods(&s.app, &s.school).len(), 2 * stored.len());
    // Back to the standard periods.
    let reset = post_form(
        &s.app,
        &admin,
        "/admin/timetable/reset",
        &[("csrf_token", &csrf)],
    )
    .await;
    assert_eq!(reset.status(), StatusCode::SEE_OTHER);
    assert!(stored_periods(&s.app, &s.school).is_empty());

    // Only administrators and SLT keep the timetable.
    let (teacher, teacher_csrf) = signed_in(&s.app, TEACHER).await;
    let (status, _) = page(&s.app, &teacher, "/admin/timetable").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let refused = post_form(
        &s.app,
        &teacher,
        "/admin/timetable/day",
        &tuesday_rows(&teacher_csrf),
    )
    .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(stored_periods(&s.app, &s.school).is_empty());
}

async fn the_patterns_group_by_the_schools_own_periods(engine: Engine) {
    let s = arrange(engine).await;
    let (admin, csrf) = signed_in(&s.app, ADMIN).await;
    let saved = post_form(&s.app, &admin, "/admin/timetable/day", &tuesday_rows(&csrf)).await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let pupil = s.amira.id;
    // Tuesday 14 October 2025 is in summer time, Tuesday 11 November in winter: the same
    // London times fall in the same periods.
    for (day, hour, minute) in [
        (date(2025, 10, 14), 9, 30),
        (date(2025, 11, 11), 9, 30),
        (date(2025, 11, 11), 10, 59),
        (date(2025, 11, 11), 8, 40),
        (date(2025, 11, 11), 8, 55),
        (date(2025, 11, 11), 12, 30),
        (date(2025, 11, 11), 16, 0),
        // Wednesday keeps the standard periods: 10:00 is Period 2.
        (date(2025, 11, 12), 10, 0),
    ] {
        log(
            &s.app,
            &s.school,
            &s.teacher,
            pupil,
            at(day, hour, minute),
            "Calling out",
        );
    }
    let (slt, _) = signed_in(&s.app, SLT).await;
    let (status, report) = page(
        &s.app,
        &slt,
        "/insight?scope=school&from=2025-10-13&to=2025-11-21",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let periods = section(&report, "by-period");
    let position = |group: &str| {
        periods
            .find(&format!(">{group}<"))
            .unwrap_or_else(|| panic!("{group} in {periods}"))
    };
    let order = [
        "Registration",
        "Double science",
        "Period 2",
        "Lunch",
        "Between periods",
        "After school",
    ];
    for pair in order.windows(2) {
        assert!(
            position(pair[0]) < position(pair[1]),
            "{pair:?} in {periods}"
        );
    }
    assert!(
        periods.contains("3 ("),
        "three in double science: {periods}"
    );
    // The bar leads to exactly its three incidents.
    let (status, drill) = page(
        &s.app,
        &slt,
        "/insight/incidents?scope=school&from=2025-10-13&to=2025-11-21&dimension=period&key=Double+science",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(drill.matches("data-incident=").count(), 3, "{drill}");
    // The CSV groups the same way.
    let (_, csv) = page(
        &s.app,
        &slt,
        "/insight.csv?scope=school&from=2025-10-13&to=2025-11-21",
    )
    .await;
    assert!(csv.contains("period,Double science,3,"), "{csv}");
    assert!(csv.contains("period,Registration,1,"), "{csv}");
}

async fn the_incident_form_offers_the_period(engine: Engine) {
    let s = arrange(engine).await;
    let (admin, csrf) = signed_in(&s.app, ADMIN).await;
    let saved = post_form(&s.app, &admin, "/admin/timetable/day", &tuesday_rows(&csrf)).await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let timetable =
        steadfast::db::timetable::load(&mut s.app.conn(), s.school.id).expect("the timetable");
    let words = |at: DateTime<Utc>| match timetable.moment_at(at) {
        steadfast::domain::timetable::Moment::Period(p) => format!("{}, {}", p.name, p.span()),
        other => other.label().to_string(),
    };

    let (client, csrf) = signed_in(&s.app, TEACHER).await;
    let before = words(Utc::now());
    let (status, form) = page(&s.app, &client, &format!("/log/new?pupil={}", s.amira.id)).await;
    let after = words(Utc::now());
    assert_eq!(status, StatusCode::OK);
    let shown = text_of_id(
        &form[form.find(r#"id="current-period""#).expect("the period")..],
        "current-period",
    );
    assert_eq!(shown, "Lesson period: ");
    let named = form
        .split(r#"<strong class="period">"#)
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .expect("the period named");
    assert!(
        named == before || named == after,
        "{named:?}, expected {before:?}"
    );

    // A form shown again names the period of the time typed: a Tuesday at 09:30 is double
    // science.
    let refused = post_form(
        &s.app,
        &client,
        "/log/new",
        &[
            ("csrf_token", &csrf),
            ("idempotency_key", "key-for-the-period-test-0001"),
            ("pupil_ids", &s.amira.id.to_string()),
            ("behaviour", ""),
            ("occurred_at", &next_tuesday_at_half_nine()),
        ],
    )
    .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let shown = refused.text().await.expect("the form");
    assert!(
        shown.contains(r#"<strong class="period">Double science, 09:00 to 11:00</strong>"#),
        "{shown}"
    );
}

/// The last Tuesday (a week ago at most) at 09:30, as a `datetime-local` value: a time the
/// form accepts.
fn next_tuesday_at_half_nine() -> String {
    let mut day = Utc::now().with_timezone(&SCHOOL_TZ).date_naive() - TimeDelta::days(1);
    while day.weekday() != Weekday::Tue {
        day -= TimeDelta::days(1);
    }
    format!("{day}T09:30")
}

both_engines!(
    a_head_of_house_sees_and_decides_for_their_house,
    a_head_of_house_gets_their_digest,
    a_head_of_house_sees_their_houses_insight,
    the_houses_page_adds_renames_and_removes,
    the_timetable_page_saves_periods_and_refuses_overlaps,
    the_patterns_group_by_the_schools_own_periods,
    the_incident_form_offers_the_period,
);
