//! Leavers and retention end to end on both engines: the schedule's defaults on
//! `/admin/retention` (administrators change it, senior leaders read it, a bad period is shown
//! again at its field); a left pupil whose 25th birthday has passed loses their behaviour and
//! pastoral records and keeps their SEN records until 31, a pupil on roll loses nothing, and
//! `steadfast retention --dry-run` lists exactly what the real run erases; the school's
//! insight figures for a past term are the same after an erasure; and a record erased on
//! request is gone from every page and API answer that showed it, with an audit entry that
//! holds the reason and not the record.

mod common;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::json;

use common::{
    assert_success, both_engines, location, page as get, problem_at, signed_in, spawn_app, stdout,
    unzip, Engine, Role, TestApp, PASSWORD,
};
use steadfast::db::models::School;
use steadfast::db::schema::{
    audit_log, coaching_plans, conversation_incidents, incident_pupils, incidents, level_changes,
    pupil_day_incidents, pupils, suggestions,
};
use steadfast::db::staff::StaffMember;
use steadfast::db::{conversations, evaluation, incidents as incident_records, write_transaction};
use steadfast::domain::conversation::NewConversation;
use steadfast::domain::incident::{IncidentSubmission, NewIncident};
use steadfast::domain::retention::RecordKind;

const ADMIN: &str = "admin@elm.example";
const SLT: &str = "slt@elm.example";
const TEACHER: &str = "teacher@elm.example";

/// The UPNs of the cast.
const LEAVER: &str = "E100000000001";
const ON_ROLL: &str = "E100000000002";
const YOUNG_LEAVER: &str = "E100000000003";

/// The term reported on.
const TERM: &str = "from=2025-11-01&to=2025-11-30";

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a date")
}

/// `hour:00` London time on `day`.
fn at(day: NaiveDate, hour: u32) -> DateTime<Utc> {
    steadfast::domain::SCHOOL_TZ
        .from_local_datetime(&day.and_hms_opt(hour, 0, 0).expect("a time"))
        .earliest()
        .expect("a London time")
        .with_timezone(&Utc)
}

/// A school with an administrator, a member of SLT and a class teacher; a pupil who left in
/// December 2025 born in March 2000 (past their 25th birthday, not their 31st), a pupil on
/// roll born in 1990, and a Year 11 pupil who left in July 2025 with no date of birth.
struct Scene {
    app: TestApp,
    school: School,
    admin: StaffMember,
    teacher: StaffMember,
    leaver: i64,
    on_roll: i64,
    young_leaver: i64,
}

impl Scene {
    async fn new(engine: Engine) -> Scene {
        let app = spawn_app(engine).await;
        let school = app.create_school("ELM", "Elm Academy");
        let admin = app.create_staff(&school, ADMIN, "Ada Admin", &[Role::Admin], Some(PASSWORD));
        app.create_staff(&school, SLT, "Sam Lead", &[Role::Slt], Some(PASSWORD));
        let teacher = app.create_staff(
            &school,
            TEACHER,
            "Tess Teacher",
            &[Role::ClassStaff],
            Some(PASSWORD),
        );
        let leaver = app
            .create_pupil(&school, LEAVER, "Lee", "Leaver", 11, "11A")
            .id;
        let on_roll = app
            .create_pupil(&school, ON_ROLL, "Rory", "Roll", 11, "11A")
            .id;
        let young_leaver = app
            .create_pupil(&school, YOUNG_LEAVER, "Yan", "Young", 11, "11A")
            .id;
        Scene {
            app,
            school,
            admin,
            teacher,
            leaver,
            on_roll,
            young_leaver,
        }
    }

    /// Logs a Coaching Prompt for `pupils` at `when`, answering the incident's id.
    fn log(&self, pupils: &[i64], when: DateTime<Utc>, behaviour: &str, note: Option<&str>) -> i64 {
        let new = NewIncident::parse(
            &IncidentSubmission {
                pupil_ids: pupils,
                behaviour,
                severity: Some("minor"),
                response: Some("prompt"),
                occurred_at: Some(when),
                location: Some("Room 4"),
                note,
                ..Default::default()
            },
            when,
        )
        .expect("a valid incident");
        let school_id = self.school.id;
        write_transaction(&mut self.app.conn(), |c| {
            let rules = evaluation::load_rules(c, school_id)?;
            incident_records::record(c, school_id, self.teacher.id, &new, &rules, when)
        })
        .expect("recording an incident")
        .incident
        .id
    }

    /// Records a Coaching Conversation with `pupil` following up `incident_ids`.
    fn converse(&self, pupil: i64, when: DateTime<Utc>, said: &str, incident_ids: Vec<i64>) -> i64 {
        let new = NewConversation {
            pupil_id: pupil,
            held_at: when,
            with_whom: None,
            what_happened: said.to_string(),
            what_got_in_the_way: None,
            what_could_help: None,
            plan_next_time: "Ask for help first.".to_string(),
            good_for_everyone: None,
            incident_ids,
        };
        let school_id = self.school.id;
        write_transaction(&mut self.app.conn(), |c| {
            conversations::record(c, school_id, self.teacher.id, &new, when)
        })
        .expect("recording a conversation")
    }

    /// A term of records: three prompts for the leaver (a level change and a suggestion
    /// follow), one incident shared with the pupil on roll, a conversation and a Coaching
    /// Plan for the leaver; one incident of the pupil on roll alone; one of the young leaver.
    /// Then the two leavers are marked left.
    fn term(&self) {
        for day in [10, 11, 12] {
            self.log(
                &[self.leaver],
                at(date(2025, 11, day), 10),
                "Calling out",
                None,
            );
        }
        let shared = self.log(
            &[self.leaver, self.on_roll],
            at(date(2025, 11, 13), 11),
            "Rough play",
            None,
        );
        self.log(&[self.on_roll], at(date(2025, 11, 14), 9), "Off task", None);
        self.log(
            &[self.young_leaver],
            at(date(2025, 6, 10), 9),
            "Off task",
            None,
        );
        self.converse(
            self.leaver,
            at(date(2025, 11, 17), 12),
            "We talked it through.",
            vec![shared],
        );
        diesel::insert_into(coaching_plans::table)
            .values((
                coaching_plans::school_id.eq(self.school.id),
                coaching_plans::pupil_id.eq(self.leaver),
                coaching_plans::version.eq(1),
                coaching_plans::goals.eq("[]"),
                coaching_plans::pathway_to_independence.eq("Small steps."),
                coaching_plans::action_steps.eq("[]"),
                coaching_plans::review_on.eq(date(2025, 12, 12)),
                coaching_plans::created_by.eq(self.admin.id),
                coaching_plans::created_at.eq(at(date(2025, 11, 20), 9).naive_utc()),
            ))
            .execute(&mut *self.app.conn())
            .expect("a Coaching Plan");
        diesel::update(pupils::table.find(self.leaver))
            .set((
                pupils::left_on.eq(Some(date(2025, 12, 19))),
                pupils::date_of_birth.eq(Some(date(2000, 3, 1))),
            ))
            .execute(&mut *self.app.conn())
            .expect("marking the leaver left");
        diesel::update(pupils::table.find(self.on_roll))
            .set(pupils::date_of_birth.eq(Some(date(1990, 1, 1))))
            .execute(&mut *self.app.conn())
            .expect("an old pupil on roll");
        diesel::update(pupils::table.find(self.young_leaver))
            .set(pupils::left_on.eq(Some(date(2025, 7, 18))))
            .execute(&mut *self.app.conn())
            .expect("marking the young leaver left");
    }

    fn incidents_of(&self, pupil: i64) -> i64 {
        incident_pupils::table
            .filter(incident_pupils::pupil_id.eq(pupil))
            .count()
            .get_result(&mut *self.app.conn())
            .expect("counting incidents")
    }

    fn plans_of(&self, pupil: i64) -> i64 {
        coaching_plans::table
            .filter(coaching_plans::pupil_id.eq(pupil))
            .count()
            .get_result(&mut *self.app.conn())
            .expect("counting plans")
    }

    fn level_changes_of(&self, pupil: i64) -> i64 {
        level_changes::table
            .filter(level_changes::pupil_id.eq(pupil))
            .count()
            .get_result(&mut *self.app.conn())
            .expect("counting level changes")
    }

    /// Runs `steadfast retention` with `args`, answering its lines of school, UPN, kind and
    /// count (the summary left out).
    fn retention(&self, args: &[&str]) -> Vec<String> {
        let mut all = vec!["retention"];
        all.extend_from_slice(args);
        let output = self.app.cli(&all, "");
        assert_success(&output);
        stdout(&output)
            .lines()
            .filter(|line| line.contains('\t'))
            .map(str::to_string)
            .collect()
    }
}

/// The schedule form's fields with every period at its default, `changed` over them.
fn schedule_fields(changed: &[(&str, &str)]) -> Vec<(String, String)> {
    RecordKind::ALL
        .iter()
        .map(|kind| {
            let name = kind.as_str();
            let value = changed
                .iter()
                .find(|(n, _)| *n == name)
                .map_or(kind.default_years().to_string(), |(_, v)| v.to_string());
            (name.to_string(), value)
        })
        .collect()
}

async fn post_schedule(
    app: &TestApp,
    client: &reqwest::Client,
    changed: &[(&str, &str)],
) -> reqwest::Response {
    let fields = schedule_fields(changed);
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    app.submit_form(client, "/admin/retention", "/admin/retention", &pairs)
        .await
}

async fn the_schedule_page_shows_the_defaults_and_keeps_changes(engine: Engine) {
    let scene = Scene::new(engine).await;
    let app = &scene.app;
    let admin = signed_in(app, ADMIN).await;
    let (status, page) = get(app, &admin, "/admin/retention").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    for (name, years) in [
        ("incidents", 25),
        ("conversations", 25),
        ("level_history", 25),
        ("suggestions", 25),
        ("pastoral_meetings", 25),
        ("support_meetings", 31),
        ("coaching_plans", 31),
        ("programme_blocks", 31),
        ("programme_sessions", 31),
        ("provision_items", 31),
        ("provision_reviews", 31),
        ("audit_log", 6),
        ("outbox", 1),
    ] {
        assert!(
            page.contains(&format!(r#"name="{name}" value="{years}""#)),
            "{name} defaults to {years}:\n{page}"
        );
    }
    assert!(
        page.contains(r#"id="no-birth-date""#),
        "the rule without a birth date is said"
    );

    // A period out of bounds is shown again at its field, with what was typed.
    let refused = post_schedule(app, &admin, &[("incidents", "17")]).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = refused.text().await.expect("the form again");
    assert!(
        problem_at(&page, "incidents").contains("whole number of years from 18 to 100"),
        "{page}"
    );
    assert!(page.contains(r#"name="incidents" value="17""#), "{page}");

    let saved = post_schedule(app, &admin, &[("incidents", "30"), ("outbox", "2")]).await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&saved), "/admin/retention?saved=1");
    let schedule =
        steadfast::db::retention::schedule(&mut app.conn(), scene.school.id).expect("the schedule");
    assert_eq!(schedule.years(RecordKind::Incidents), 30);
    assert_eq!(schedule.years(RecordKind::Outbox), 2);
    assert_eq!(schedule.years(RecordKind::CoachingPlans), 31);
    let audited: String = audit_log::table
        .filter(audit_log::action.eq("retention.schedule"))
        .select(audit_log::detail)
        .first(&mut *app.conn())
        .expect("the change audited");
    assert!(audited.contains("incidents 25 to 30"), "{audited}");

    // Senior leaders read it; others may not; only administrators change it.
    let slt = signed_in(app, SLT).await;
    let (status, page) = get(app, &slt, "/admin/retention").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(r#"name="incidents" value="30""#), "{page}");
    assert!(
        page.contains("Administrators change the schedule."),
        "{page}"
    );
    let csrf = common::csrf_token_in(&page);
    let by_slt = slt
        .post(app.url("/admin/retention"))
        .form(&[("csrf_token", csrf.as_str()), ("incidents", "40")])
        .send()
        .await
        .expect("an answer");
    assert_eq!(by_slt.status(), StatusCode::FORBIDDEN);
    let teacher = signed_in(app, TEACHER).await;
    let (status, _) = get(app, &teacher, "/admin/retention").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

async fn a_leaver_past_25_loses_behaviour_records_and_keeps_sen_records_until_31(engine: Engine) {
    let scene = Scene::new(engine).await;
    scene.term();
    let app = &scene.app;
    assert_eq!(scene.incidents_of(scene.leaver), 4);
    // A family contact each for the leaver and the pupil on roll.
    for pupil in [scene.leaver, scene.on_roll] {
        diesel::insert_into(steadfast::db::schema::pupil_contacts::table)
            .values((
                steadfast::db::schema::pupil_contacts::school_id.eq(scene.school.id),
                steadfast::db::schema::pupil_contacts::pupil_id.eq(pupil),
                steadfast::db::schema::pupil_contacts::name.eq("Pat Parent"),
                steadfast::db::schema::pupil_contacts::relationship.eq("parent"),
            ))
            .execute(&mut *app.conn())
            .expect("a contact");
    }
    let contacts_of = |pupil: i64| -> i64 {
        steadfast::db::schema::pupil_contacts::table
            .filter(steadfast::db::schema::pupil_contacts::pupil_id.eq(pupil))
            .count()
            .get_result(&mut *app.conn())
            .expect("counting contacts")
    };

    let listed = scene.retention(&["--dry-run"]);
    let expected: Vec<String> = [
        ("level_history", 1),
        ("suggestions", 1),
        ("conversations", 1),
        ("incidents", 4),
    ]
    .iter()
    .map(|(kind, n)| format!("ELM\t{LEAVER}\t{kind}\t{n}"))
    .collect();
    assert_eq!(
        listed, expected,
        "only the leaver's behaviour records are due"
    );
    assert_eq!(
        scene.incidents_of(scene.leaver),
        4,
        "a dry run erases nothing"
    );

    // The page lists the same before anything goes.
    let slt = signed_in(app, SLT).await;
    let (_, page) = get(app, &slt, "/admin/retention").await;
    let listing = &page[page.find(r#"id="expired""#).expect("the listing")..];
    assert!(listing.contains(LEAVER), "{listing}");
    assert!(
        !listing.contains(ON_ROLL) && !listing.contains(YOUNG_LEAVER),
        "{listing}"
    );

    let erased = scene.retention(&[]);
    assert_eq!(
        erased, listed,
        "the real run erases what the dry run listed"
    );
    assert_eq!(scene.incidents_of(scene.leaver), 0);
    assert_eq!(scene.level_changes_of(scene.leaver), 0);
    assert_eq!(scene.plans_of(scene.leaver), 1, "SEN records stay until 31");
    // The incident shared with the pupil on roll is theirs still; the leaver's alone are gone.
    assert_eq!(
        scene.incidents_of(scene.on_roll),
        2,
        "a pupil on roll loses nothing"
    );
    assert_eq!(scene.level_changes_of(scene.on_roll), 1);
    assert_eq!(scene.incidents_of(scene.young_leaver), 1);
    let left_incidents: i64 = incidents::table
        .count()
        .get_result(&mut *app.conn())
        .expect("counting");
    assert_eq!(left_incidents, 3);
    let audited: String = audit_log::table
        .filter(audit_log::action.eq("retention.erase"))
        .filter(audit_log::entity_id.eq(scene.leaver))
        .select(audit_log::detail)
        .first(&mut *app.conn())
        .expect("the erasure audited");
    assert!(audited.contains("incidents 4"), "{audited}");
    assert!(audited.contains("contacts 1"), "{audited}");
    assert_eq!(
        contacts_of(scene.leaver),
        0,
        "a leaver's contacts go with the first erasure"
    );
    assert_eq!(
        contacts_of(scene.on_roll),
        1,
        "a pupil on roll keeps theirs"
    );
    assert!(
        scene.retention(&["--dry-run"]).is_empty(),
        "nothing left to go"
    );

    // On the 31st birthday the SEN records go too.
    let later = ["--at", "2031-03-01T12:00:00Z"];
    let listed = scene.retention(&[later[0], later[1], "--dry-run"]);
    assert!(
        listed.contains(&format!("ELM\t{LEAVER}\tcoaching_plans\t1")),
        "{listed:?}"
    );
    // The daily jobs erase it, and say so in their report.
    let jobs = app.cli(&["jobs", "run", "--once", later[0], later[1]], "");
    assert_success(&jobs);
    assert!(
        stdout(&jobs).contains("erased: 1 records of 1 left pupils"),
        "{}",
        stdout(&jobs)
    );
    assert_eq!(scene.plans_of(scene.leaver), 0);
    assert!(scene
        .retention(&[later[0], later[1], "--dry-run"])
        .is_empty());
    assert_eq!(scene.incidents_of(scene.on_roll), 2);
}

async fn an_insight_figure_is_unchanged_across_an_erasure(engine: Engine) {
    let scene = Scene::new(engine).await;
    scene.term();
    let app = &scene.app;
    let slt = signed_in(app, SLT).await;
    let figures = |csv: &str| -> Vec<String> {
        csv.lines()
            .filter(|line| !line.contains(",pupil,"))
            .map(str::to_string)
            .collect()
    };
    let report = format!("/insight?scope=school&{TERM}");
    let csv = format!("/insight.csv?scope=school&{TERM}");
    let ladder = format!("/insight/ladder.csv?scope=school&{TERM}");
    let (_, before_page) = get(app, &slt, &report).await;
    let (status, before_csv) = get(app, &slt, &csv).await;
    assert_eq!(status, StatusCode::OK, "{before_csv}");
    let (_, before_ladder) = get(app, &slt, &ladder).await;
    let impact = format!("/insight/impact.csv?scope=school&{TERM}");
    let (status, before_impact) = get(app, &slt, &impact).await;
    assert_eq!(status, StatusCode::OK, "{before_impact}");
    let total = |page: &str| -> String {
        let start = page.find(r#"id="total""#).expect("the total") + r#"id="total">"#.len();
        page[start..start + page[start..].find('<').expect("its end")].to_string()
    };
    // The leaver's four incidents and the on-roll pupil's two of November.
    assert_eq!(total(&before_page), "6", "{before_page}");

    assert!(!scene.retention(&[]).is_empty());
    assert_eq!(scene.incidents_of(scene.leaver), 0);

    let (_, after_page) = get(app, &slt, &report).await;
    let (_, after_csv) = get(app, &slt, &csv).await;
    let (_, after_ladder) = get(app, &slt, &ladder).await;
    let (_, after_impact) = get(app, &slt, &impact).await;
    assert_eq!(total(&after_page), "6", "{after_page}");
    assert_eq!(figures(&after_csv), figures(&before_csv));
    assert_eq!(after_ladder, before_ladder);
    assert_eq!(after_impact, before_impact);
    assert!(before_impact.contains("Coaching Prompt"), "{before_impact}");
    // The leaver's own line is now counted without them.
    assert!(
        after_csv.contains("Pupils whose records were erased under the retention schedule,4,"),
        "{after_csv}"
    );
    assert!(!after_csv.contains("Leaver"), "{after_csv}");
    // The bar's incidents say how many are counted but no longer listed.
    let (_, drill) = get(
        app,
        &slt,
        &format!("/insight/incidents?scope=school&{TERM}&dimension=behaviour&key=Calling+out"),
    )
    .await;
    assert!(drill.contains(r#"id="erased""#), "{drill}");
    assert!(!drill.contains("Leaver"), "{drill}");
}

async fn a_record_erased_on_request_is_gone_everywhere(engine: Engine) {
    let scene = Scene::new(engine).await;
    let app = &scene.app;
    let pupil = scene.on_roll;
    let token = app.create_token(&scene.teacher);
    let today = steadfast::domain::calendar::SchoolCalendar::local_date(Utc::now());
    // Three prompts today: the third is logged through the API with a key and a note.
    for _ in 0..2 {
        scene.log(&[pupil], Utc::now(), "Calling out", None);
    }
    let body = json!({
        "pupil_ids": [pupil], "behaviour": "Door kicking", "severity": "minor",
        "response": "prompt", "note": "SECRET-NOTE about the door"
    });
    let send = || {
        reqwest::Client::new()
            .post(app.url("/api/v1/incidents"))
            .bearer_auth(&token)
            .header("Idempotency-Key", "erase-me-0001")
            .json(&body)
            .send()
    };
    let logged = send().await.expect("logged");
    assert_eq!(logged.status(), StatusCode::CREATED);
    let logged: serde_json::Value = logged.json().await.expect("JSON");
    let incident = logged["id"].as_i64().expect("an id");
    let conversation = scene.converse(pupil, Utc::now(), "CONVERSATION-WORDS", vec![incident]);
    let evidence: Vec<String> = suggestions::table
        .filter(suggestions::pupil_id.eq(pupil))
        .select(suggestions::evidence)
        .load(&mut *app.conn())
        .expect("suggestions");
    assert!(
        evidence.iter().any(|e| e.contains(&incident.to_string())),
        "the suggestion rests on it: {evidence:?}"
    );
    let counted = |app: &TestApp| -> i32 {
        pupil_day_incidents::table
            .filter(pupil_day_incidents::pupil_id.eq(pupil))
            .filter(pupil_day_incidents::day.eq(today))
            .select(pupil_day_incidents::incidents)
            .first(&mut *app.conn())
            .unwrap_or(0)
    };
    assert_eq!(counted(app), 3);

    let slt = signed_in(app, SLT).await;
    let pupil_page = format!("/pupils/{pupil}");
    let (_, page) = get(app, &slt, &pupil_page).await;
    let erase = format!("/incidents/{incident}/erase");
    assert!(page.contains(&erase), "SLT is offered the erasure");
    assert!(page.contains("SECRET-NOTE"));

    // Not for a class teacher.
    let teacher = signed_in(app, TEACHER).await;
    let (_, teacher_page) = get(app, &teacher, &pupil_page).await;
    assert!(!teacher_page.contains(&erase));
    let (status, _) = get(app, &teacher, &erase).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let refused = app
        .submit_form(&teacher, &pupil_page, &erase, &[("reason", "no")])
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);

    // A missing reason is shown again at its field.
    let (status, form) = get(app, &slt, &erase).await;
    assert_eq!(status, StatusCode::OK, "{form}");
    assert!(form.contains("Door kicking"), "{form}");
    let missing = app
        .submit_form(&slt, &erase, &erase, &[("reason", "  ")])
        .await;
    assert_eq!(missing.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let again = missing.text().await.expect("the form again");
    assert!(problem_at(&again, "reason").contains("say why"), "{again}");
    assert_eq!(
        scene.incidents_of(pupil),
        3,
        "nothing erased without a reason"
    );

    let done = app
        .submit_form(
            &slt,
            &erase,
            &erase,
            &[("reason", "Logged for the wrong pupil")],
        )
        .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&done), format!("/pupils/{pupil}?erased=1"));

    // Gone from the pupil page, the timeline API, a repeat of the keyed request, the insight
    // bar's incidents, the counts, evidence lists and the conversation's links.
    let (_, page) = get(app, &slt, &format!("{pupil_page}?erased=1")).await;
    assert!(page.contains(r#"id="erased""#), "{page}");
    assert!(
        !page.contains("SECRET-NOTE") && !page.contains("Door kicking"),
        "{page}"
    );
    assert!(!page.contains(&format!("incident-{incident}")), "{page}");
    let (status, timeline) = app
        .api_get(&format!("/api/v1/pupils/{pupil}/timeline"), &token)
        .await;
    assert_eq!(status, StatusCode::OK);
    let text = timeline.to_string();
    assert!(
        !text.contains("SECRET-NOTE") && !text.contains("Door kicking"),
        "{text}"
    );
    let repeat = send().await.expect("answered");
    assert_eq!(repeat.status(), StatusCode::NOT_FOUND);
    let repeat = repeat.text().await.expect("a body");
    assert!(!repeat.contains("SECRET-NOTE"), "{repeat}");
    assert_eq!(scene.incidents_of(pupil), 2, "the repeat wrote nothing");
    let (_, drill) = get(
        app,
        &slt,
        &format!("/insight/incidents?scope=school&from={today}&to={today}&dimension=behaviour&key=Door+kicking"),
    )
    .await;
    assert!(
        !drill.contains(&format!(r#"data-incident="{incident}""#)),
        "{drill}"
    );
    assert!(drill.contains("No incidents."), "{drill}");
    assert_eq!(counted(app), 2);
    // ... and from the pupil's subject access record, its page and every file of its ZIP.
    let (_, record) = get(app, &slt, &format!("/pupils/{pupil}/export")).await;
    assert!(
        record.contains("Calling out"),
        "the other incidents stay: {record}"
    );
    assert!(
        !record.contains("SECRET-NOTE") && !record.contains("Door kicking"),
        "{record}"
    );
    let zip = app
        .get_page(&slt, &format!("/pupils/{pupil}/export.zip"))
        .await;
    assert_eq!(zip.status(), StatusCode::OK);
    for (name, text) in unzip(&zip.bytes().await.expect("the ZIP")) {
        assert!(
            !text.contains("SECRET-NOTE") && !text.contains("Door kicking"),
            "{name}: {text}"
        );
    }
    let evidence: Vec<String> = suggestions::table
        .filter(suggestions::pupil_id.eq(pupil))
        .select(suggestions::evidence)
        .load(&mut *app.conn())
        .expect("suggestions");
    assert!(
        evidence.iter().all(|e| !e.contains(&incident.to_string())),
        "{evidence:?}"
    );
    let links: i64 = conversation_incidents::table
        .filter(conversation_incidents::incident_id.eq(incident))
        .count()
        .get_result(&mut *app.conn())
        .expect("counting links");
    assert_eq!(links, 0);
    let (action, detail): (String, String) = audit_log::table
        .filter(audit_log::entity.eq("incident"))
        .filter(audit_log::entity_id.eq(incident))
        .filter(audit_log::action.eq("incident.erase"))
        .select((audit_log::action, audit_log::detail))
        .first(&mut *app.conn())
        .expect("the erasure audited");
    assert_eq!(action, "incident.erase");
    assert!(detail.contains("Logged for the wrong pupil"), "{detail}");
    assert!(
        !detail.contains("SECRET-NOTE") && !detail.contains("Door"),
        "{detail}"
    );

    // A conversation, erased by an administrator.
    let admin = signed_in(app, ADMIN).await;
    let (_, page) = get(app, &admin, &pupil_page).await;
    assert!(page.contains("CONVERSATION-WORDS"));
    let erase = format!("/conversations/{conversation}/erase");
    assert!(page.contains(&erase));
    let done = app
        .submit_form(
            &admin,
            &erase,
            &erase,
            &[("reason", "The family asked for it")],
        )
        .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let (_, page) = get(app, &admin, &pupil_page).await;
    assert!(!page.contains("CONVERSATION-WORDS"), "{page}");
    let (_, timeline) = app
        .api_get(&format!("/api/v1/pupils/{pupil}/timeline"), &token)
        .await;
    assert!(!timeline.to_string().contains("CONVERSATION-WORDS"));
    let detail: String = audit_log::table
        .filter(audit_log::action.eq("conversation.erase"))
        .filter(audit_log::entity_id.eq(conversation))
        .select(audit_log::detail)
        .first(&mut *app.conn())
        .expect("the erasure audited");
    assert!(detail.contains("The family asked for it"), "{detail}");
    assert!(!detail.contains("CONVERSATION-WORDS"), "{detail}");
    // Another school's record is not found.
    let (status, _) = get(app, &admin, "/incidents/999999/erase").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

both_engines!(
    the_schedule_page_shows_the_defaults_and_keeps_changes,
    a_leaver_past_25_loses_behaviour_records_and_keeps_sen_records_until_31,
    an_insight_figure_is_unchanged_across_an_erasure,
    a_record_erased_on_request_is_gone_everywhere,
);
