//! The demo at scale (`steadfast demo --schools S --pupils-per-school N --years Y`): several
//! schools with a year of history load on both engines, every derived record agrees with the
//! incidents, schools stay apart, their logins work, and the service goes on logging after.

mod common;

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::json;

use common::{
    assert_failure_naming, assert_success, both_engines, page_client, spawn_app, stderr, stdout,
    Engine, TestApp,
};
use steadfast::db::models::MeetingRow;
use steadfast::db::schema::{
    incident_pupils, incidents, level_changes, meetings, pupil_day_incidents, pupils, schools,
    staff, suggestions,
};
use steadfast::db::{from_db_time, staff as staff_db};
use steadfast::demo::DEMO_PASSWORD;
use steadfast::domain::calendar::SchoolCalendar;

/// Runs `steadfast demo` with `args`, expecting success; answers standard output.
fn demo(app: &TestApp, args: &[&str]) -> String {
    let mut all = vec!["demo"];
    all.extend_from_slice(args);
    let output = app.cli(&all, "");
    assert!(
        output.status.success(),
        "steadfast demo failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Checks that every record derived from the incidents agrees with them, in every school.
fn assert_consistent(app: &TestApp) {
    let mut conn = app.conn();
    // Each incident's pupils are of the incident's school, and every incident has one.
    let links: Vec<(i64, i64, i64, i64, NaiveDateTime, NaiveDateTime)> = incident_pupils::table
        .inner_join(incidents::table)
        .inner_join(pupils::table)
        .select((
            incident_pupils::incident_id,
            incident_pupils::school_id,
            incidents::school_id,
            pupils::school_id,
            incident_pupils::occurred_at,
            incidents::occurred_at,
        ))
        .load(&mut *conn)
        .expect("incident pupils");
    for (incident, link_school, incident_school, pupil_school, link_at, at) in &links {
        assert_eq!(
            (link_school, pupil_school, link_at),
            (incident_school, incident_school, at),
            "incident {incident} mixes schools or times"
        );
    }
    let incident_count: i64 = incidents::table
        .count()
        .get_result(&mut *conn)
        .expect("incidents");
    let with_pupils = incident_pupils::table
        .select(incident_pupils::incident_id)
        .load::<i64>(&mut *conn)
        .expect("incidents with pupils")
        .into_iter()
        .collect::<std::collections::HashSet<_>>()
        .len() as i64;
    assert!(incident_count > 0, "no incidents");
    assert_eq!(with_pupils, incident_count, "an incident has no pupil");

    // The daily counts are those of the incidents, by school-time date.
    let mut expected: BTreeMap<(i64, chrono::NaiveDate), i32> = BTreeMap::new();
    let rows: Vec<(i64, NaiveDateTime)> = incident_pupils::table
        .select((incident_pupils::pupil_id, incident_pupils::occurred_at))
        .load(&mut *conn)
        .expect("incident times");
    for (pupil, at) in rows {
        *expected
            .entry((pupil, SchoolCalendar::local_date(from_db_time(at))))
            .or_default() += 1;
    }
    let kept: BTreeMap<(i64, chrono::NaiveDate), i32> = pupil_day_incidents::table
        .select((
            pupil_day_incidents::pupil_id,
            pupil_day_incidents::day,
            pupil_day_incidents::incidents,
        ))
        .load::<(i64, chrono::NaiveDate, i32)>(&mut *conn)
        .expect("daily counts")
        .into_iter()
        .map(|(p, d, n)| ((p, d), n))
        .collect();
    assert_eq!(kept, expected, "daily counts differ from the incidents");

    // Each pupil's level is that of their last level change (none without one).
    let changes: Vec<(i64, i16, i16)> = level_changes::table
        .order((level_changes::occurred_at, level_changes::id))
        .select((
            level_changes::pupil_id,
            level_changes::from_level,
            level_changes::to_level,
        ))
        .load(&mut *conn)
        .expect("level changes");
    let mut last: HashMap<i64, i16> = HashMap::new();
    for (pupil, from, to) in changes {
        assert_eq!(
            last.get(&pupil).copied().unwrap_or(0),
            from,
            "pupil {pupil} moved from a level they were not at"
        );
        last.insert(pupil, to);
    }
    let levels: Vec<(i64, i16)> = pupils::table
        .select((pupils::id, pupils::level))
        .load(&mut *conn)
        .expect("pupils");
    for (pupil, level) in levels {
        assert_eq!(
            last.get(&pupil).copied().unwrap_or(0),
            level,
            "pupil {pupil}"
        );
    }

    // Suggestions and meetings belong to pupils of their own school.
    let wrong_suggestions: i64 = suggestions::table
        .inner_join(pupils::table)
        .filter(suggestions::school_id.ne(pupils::school_id))
        .count()
        .get_result(&mut *conn)
        .expect("suggestions");
    let wrong_meetings: i64 = meetings::table
        .inner_join(pupils::table)
        .filter(meetings::school_id.ne(pupils::school_id))
        .count()
        .get_result(&mut *conn)
        .expect("meetings");
    assert_eq!((wrong_suggestions, wrong_meetings), (0, 0));

    // Every due date counted in school days is that count under the school's calendar, so
    // the first change of the calendar moves only the dates it should.
    let counted: Vec<MeetingRow> = meetings::table
        .filter(meetings::due_from.is_not_null())
        .select(MeetingRow::as_select())
        .load(&mut *conn)
        .expect("meetings");
    assert!(!counted.is_empty(), "no meeting keeps its count");
    let mut calendars: HashMap<i64, SchoolCalendar> = HashMap::new();
    for meeting in &counted {
        let calendar = calendars.entry(meeting.school_id).or_insert_with(|| {
            steadfast::db::schools::calendar(&mut conn, meeting.school_id).expect("a calendar")
        });
        let count = meeting.due_count().expect("a count");
        assert_eq!(
            count.date(calendar),
            meeting.due_on,
            "meeting {} is not due as counted",
            meeting.id
        );
    }
}

/// The staff id and school of a login.
fn login_of(app: &TestApp, email: &str) -> (i64, i64) {
    let row = staff_db::find_for_login(&mut app.conn(), email)
        .expect("a staff lookup")
        .unwrap_or_else(|| panic!("no login {email}"));
    (row.id, row.school_id)
}

/// An API token for a login.
fn token_for(app: &TestApp, email: &str) -> String {
    let (id, school_id) = login_of(app, email);
    let member = staff_db::get_member(&mut app.conn(), school_id, id)
        .expect("a member lookup")
        .expect("an active member");
    app.create_token(&member)
}

async fn three_schools_with_a_year_of_history(engine: Engine) {
    let app = spawn_app(engine).await;

    let out = demo(
        &app,
        &[
            "--schools",
            "3",
            "--pupils-per-school",
            "60",
            "--years",
            "1",
        ],
    );

    assert!(out.contains("3 schools, 180 pupils"), "{out}");
    assert!(out.contains("sendco@demo.example"), "{out}");
    assert!(out.contains("demo03.example"), "{out}");
    let codes: Vec<String> = schools::table
        .order(schools::id)
        .select(schools::code)
        .load(&mut *app.conn())
        .expect("schools");
    assert_eq!(codes, ["DEMO", "DEMO02", "DEMO03"]);
    assert_eq!(app.pupil_count(), 180);
    let per_school: Vec<(i64, i64)> = incidents::table
        .group_by(incidents::school_id)
        .select((incidents::school_id, diesel::dsl::count_star()))
        .load(&mut *app.conn())
        .expect("incidents per school");
    assert_eq!(per_school.len(), 3, "{per_school:?}");
    for (_, n) in &per_school {
        // A year of 60 pupils at about 0.4 incidents a pupil a school day.
        assert!((1_000..=10_000).contains(n), "{per_school:?}");
    }
    assert_consistent(&app);

    // Every role of every school signs in with the demo password.
    for domain in ["demo.example", "demo02.example", "demo03.example"] {
        for user in ["teacher", "hoy9", "sendco", "slt", "specialist", "admin"] {
            let client = page_client();
            let email = format!("{user}@{domain}");
            let response = app.login(&client, &email, DEMO_PASSWORD).await;
            assert_eq!(response.status(), StatusCode::SEE_OTHER, "{email}");
            assert_eq!(common::location(&response), "/", "{email}");
        }
    }

    // Schools stay apart: DEMO02's staff cannot see a DEMO pupil.
    let demo_school = login_of(&app, "admin@demo.example").1;
    let demo_pupil: i64 = pupils::table
        .filter(pupils::school_id.eq(demo_school))
        .select(pupils::id)
        .first(&mut *app.conn())
        .expect("a DEMO pupil");
    let other = token_for(&app, "slt@demo02.example");
    let (status, _) = app
        .api_get(&format!("/api/v1/pupils/{demo_pupil}"), &other)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let staff_elsewhere: i64 = staff::table
        .filter(staff::school_id.ne(demo_school))
        .filter(staff::email.like("%@demo.example"))
        .count()
        .get_result(&mut *app.conn())
        .expect("staff");
    assert_eq!(staff_elsewhere, 0);

    // The service logs on after the bulk load, with fresh ids.
    let token = token_for(&app, "teacher@demo.example");
    let (status, body) = app
        .api_post(
            "/api/v1/incidents",
            &token,
            &json!({"pupil_ids": [demo_pupil], "behaviour": "Off task",
                    "severity": "minor", "response": "prompt"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_consistent(&app);
    let check = app.cli(&["check"], "");
    assert_success(&check);
    assert!(
        stdout(&check).contains("levels of 180 pupil(s) in 3 school(s) checked"),
        "{}",
        stdout(&check)
    );
}

async fn the_plain_demo_is_consistent_too(engine: Engine) {
    let app = spawn_app(engine).await;

    let out = demo(&app, &[]);

    assert!(out.starts_with("Demo school loaded in"), "{out}");
    assert!(!out.contains("DEMO02"), "{out}");
    let codes: Vec<String> = schools::table
        .select(schools::code)
        .load(&mut *app.conn())
        .expect("schools");
    assert_eq!(codes, ["DEMO"]);
    assert_eq!(app.pupil_count(), 1000);
    assert_consistent(&app);
    let check = app.cli(&["check"], "");
    assert_success(&check);
    assert!(
        stdout(&check).contains("levels of 1000 pupil(s) in 1 school(s) checked"),
        "{}",
        stdout(&check)
    );

    // Prompts place a pupil with no level at Coaching Prompt, so each suggestion of a
    // Coaching Conversation waiting on prompts is for a pupil at Coaching Prompt (the pupil
    // with three prompts on the last school day among them), never one at no level.
    let waiting: Vec<i16> = suggestions::table
        .inner_join(pupils::table)
        .filter(suggestions::status.eq("open"))
        .filter(suggestions::rule.eq("prompts_to_conversation"))
        .select(pupils::level)
        .load(&mut *app.conn())
        .expect("open suggestions");
    assert!(!waiting.is_empty());
    assert!(waiting.iter().all(|level| *level == 1), "{waiting:?}");

    // A level changed behind the app's back is named, by school, pupil id and what disagrees.
    let (pupil, level): (i64, i16) = pupils::table
        .filter(pupils::level.eq(3))
        .order(pupils::id)
        .select((pupils::id, pupils::level))
        .first(&mut *app.conn())
        .expect("a pupil at Coaching Time");
    assert_eq!(level, 3);
    diesel::update(pupils::table.find(pupil))
        .set(pupils::level.eq(4i16))
        .execute(&mut *app.conn())
        .expect("changing the level behind the app's back");
    let check = app.cli(&["check"], "");
    assert_failure_naming(
        &check,
        &format!(
            "school DEMO pupil {pupil}: the level is Coaching Plan but the level history ends \
             at Coaching Time"
        ),
    );
    assert!(
        stderr(&check).contains("problem(s) found"),
        "{}",
        stderr(&check)
    );
}

async fn a_scaled_run_refuses_a_database_with_a_school(engine: Engine) {
    let app = spawn_app(engine).await;
    app.create_school("NORTH", "North Academy");

    let output = app.cli(&["demo", "--schools", "2", "--pupils-per-school", "10"], "");

    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("empty database"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(app.pupil_count(), 0);
}

both_engines!(
    three_schools_with_a_year_of_history,
    the_plain_demo_is_consistent_too,
    a_scaled_run_refuses_a_database_with_a_school,
);
