//! The insight pages end to end on both engines: a Head of Year's pattern report shows their
//! year's busiest period, place and behaviour with counts and rates, each bar leading to
//! exactly the incidents behind it; the CSV holds the same figures; another year's incidents
//! stay out; a class teacher and a Head of Year asking for another year are refused; another
//! school's pupil is not found; a bad range is shown again at its field; and the pupil page
//! shows the pupil's incidents over time and whether their step up helped.

mod common;

use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};
use reqwest::{header, StatusCode};

use common::{both_engines, page as get, signed_in, spawn_app, Engine, Role, TestApp, PASSWORD};
use steadfast::db::decisions::{self, ManualMove};
use steadfast::db::models::School;
use steadfast::db::notices::NoticeContext;
use steadfast::db::staff::StaffMember;
use steadfast::db::{evaluation, incidents, write_transaction};
use steadfast::domain::calendar::SchoolCalendar;
use steadfast::domain::incident::{IncidentSubmission, NewIncident};
use steadfast::domain::Level;

const HOY9: &str = "hoy9@oak.example";
const TEACHER: &str = "teacher@oak.example";

/// The fortnight reported on: Monday 10 to Friday 21 November 2025, ten school days.
const RANGE: &str = "from=2025-11-10&to=2025-11-21";

/// A school with the Year 9 Head of Year, a class teacher and a member of SLT; four pupils in
/// Year 9 and one in Year 10.
struct Scene {
    app: TestApp,
    school: School,
    teacher: StaffMember,
    slt: StaffMember,
    year9: Vec<i64>,
    year10: i64,
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a date")
}

/// `hour:minute` London time on `day`.
fn at(day: NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
    steadfast::domain::SCHOOL_TZ
        .from_local_datetime(&day.and_hms_opt(hour, minute, 0).expect("a time"))
        .earliest()
        .expect("a London time")
        .with_timezone(&Utc)
}

impl Scene {
    async fn new(engine: Engine) -> Scene {
        let app = spawn_app(engine).await;
        let school = app.create_school("OAK", "Oakfield Academy");
        app.create_staff_leading(
            &school,
            HOY9,
            "Hal Head",
            &[Role::PastoralLead],
            &[9],
            Some(PASSWORD),
        );
        let teacher = app.create_staff(
            &school,
            TEACHER,
            "Tess Teacher",
            &[Role::ClassStaff],
            Some(PASSWORD),
        );
        let slt = app.create_staff(&school, "slt@oak.example", "Sam Lead", &[Role::Slt], None);
        let year9 = [
            ("A100000000001", "Amira", "Okafor"),
            ("A100000000002", "Ben", "Carter"),
            ("A100000000003", "Chloe", "Davies"),
            ("A100000000004", "Dev", "Patel"),
        ]
        .iter()
        .map(|(upn, given, family)| app.create_pupil(&school, upn, given, family, 9, "9B").id)
        .collect();
        let year10 = app
            .create_pupil(&school, "A100000000005", "Evan", "Young", 10, "10A")
            .id;
        Scene {
            app,
            school,
            teacher,
            slt,
            year9,
            year10,
        }
    }

    fn log(&self, pupil: i64, when: DateTime<Utc>, behaviour: &str, place: &str) {
        let new = NewIncident::parse(
            &IncidentSubmission {
                pupil_ids: &[pupil],
                behaviour,
                severity: Some("minor"),
                response: Some("none"),
                occurred_at: Some(when),
                location: Some(place),
                ..Default::default()
            },
            when,
        )
        .expect("a valid incident");
        let school_id = self.school.id;
        write_transaction(&mut self.app.conn(), |c| {
            let rules = evaluation::load_rules(c, school_id)?;
            incidents::record(c, school_id, self.teacher.id, &new, &rules, when)
        })
        .expect("recording an incident");
    }

    /// Three incidents of calling out in Period 2 in Room 12 and one of being off task at
    /// lunch in the canteen, in Year 9; two of rough play in Year 10.
    fn fortnight(&self) {
        let days = [date(2025, 11, 11), date(2025, 11, 12), date(2025, 11, 13)];
        for (pupil, day) in self.year9.iter().zip(days) {
            self.log(*pupil, at(day, 10, 0), "Calling out", "Room 12");
        }
        self.log(
            self.year9[3],
            at(date(2025, 11, 17), 13, 20),
            "Off task",
            "Canteen",
        );
        for day in [date(2025, 11, 12), date(2025, 11, 14)] {
            self.log(self.year10, at(day, 10, 0), "Rough play", "Room 12");
        }
    }
}

/// The text inside the element with this id (up to its first child or end tag).
fn text_of_id(page: &str, id: &str) -> String {
    let marker = format!(r#"id="{id}""#);
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no #{id} in the page:\n{page}"));
    let open = start + page[start..].find('>').expect("the end of the tag") + 1;
    let end = open + page[open..].find('<').expect("the next tag");
    page[open..end].trim().to_string()
}

/// The part of the page from the element with this id to the next dimension's section.
fn section<'a>(page: &'a str, id: &str) -> &'a str {
    let start = page
        .find(&format!(r#"id="{id}""#))
        .unwrap_or_else(|| panic!("no #{id} in the page:\n{page}"));
    let rest = &page[start..];
    let end = rest[1..]
        .find("insight-dimension")
        .map_or(rest.len(), |e| e + 1);
    &rest[..end]
}

async fn a_head_of_year_finds_the_period_place_and_behaviour(engine: Engine) {
    let s = Scene::new(engine).await;
    s.fortnight();
    let client = signed_in(&s.app, HOY9).await;

    // With no scope chosen, the Head of Year sees their own year.
    let (status, page) = get(&s.app, &client, &format!("/insight?{RANGE}")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Incidents for Year 9"), "{page}");
    assert_eq!(text_of_id(&page, "total"), "4");
    assert_eq!(text_of_id(&page, "pupils"), "4");
    assert_eq!(text_of_id(&page, "school-days"), "10");
    // 4 incidents × 100 / (4 pupils × 10 school days).
    assert_eq!(text_of_id(&page, "rate"), "10.0 per 100 pupils a day");

    // Period, place and behaviour come first, in that order.
    let period = page.find(r#"id="by-period""#).expect("by period");
    let place = page.find(r#"id="by-location""#).expect("by place");
    let behaviour = page.find(r#"id="by-behaviour""#).expect("by behaviour");
    assert!(period < place && place < behaviour);
    let busiest = "3 (7.5 per 100 pupils a day)";
    for (id, group) in [
        ("by-period", "Period 2"),
        ("by-location", "Room 12"),
        ("by-behaviour", "Calling out"),
    ] {
        let part = section(&page, id);
        assert!(part.contains(group), "{group} in {part}");
        assert!(part.contains(busiest), "{busiest} in {part}");
        assert!(
            part.contains("1 (2.5 per 100 pupils a day)"),
            "the quieter group in {part}"
        );
    }
    // Year 10's rough play is not in Year 9's report.
    assert!(!page.contains("Rough play"));
    assert!(!page.contains("Young, Evan"));

    // The Period 2 bar leads to exactly its three incidents.
    let drill =
        format!("/insight/incidents?scope=year&year=9&{RANGE}&dimension=period&key=Period+2");
    assert!(
        page.contains(&drill.replace('&', "&amp;")),
        "a link to {drill} in {page}"
    );
    let (status, incidents) = get(&s.app, &client, &drill).await;
    assert_eq!(status, StatusCode::OK, "{incidents}");
    assert_eq!(
        incidents.matches("data-incident=").count(),
        3,
        "{incidents}"
    );
    for name in ["Amira Okafor", "Ben Carter", "Chloe Davies"] {
        assert!(incidents.contains(name), "{name} in {incidents}");
    }
    assert!(!incidents.contains("Dev Patel"));
    assert!(!incidents.contains("Evan Young"));
    assert!(incidents.contains("Tess Teacher"));
    assert!(incidents.contains(&format!(r#"href="/pupils/{}""#, s.year9[0])));
    // Newest first.
    let newest = incidents.find("Chloe Davies").expect("Chloe");
    let oldest = incidents.find("Amira Okafor").expect("Amira");
    assert!(newest < oldest);
}

async fn the_csv_holds_the_same_figures(engine: Engine) {
    let s = Scene::new(engine).await;
    s.fortnight();
    let client = signed_in(&s.app, HOY9).await;
    let response = s
        .app
        .get_page(&client, &format!("/insight.csv?scope=year&year=9&{RANGE}"))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let disposition = response
        .headers()
        .get(header::CONTENT_DISPOSITION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        disposition,
        r#"attachment; filename="incident-patterns-2025-11-10-2025-11-21.csv""#
    );
    let body = response.text().await.expect("the CSV");
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    let headers = reader.headers().expect("headers").clone();
    assert_eq!(&headers[5], "Dimension");
    let rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.expect("a row").iter().map(str::to_string).collect())
        .collect();
    let find = |dimension: &str, group: &str| {
        rows.iter()
            .find(|r| r[5] == dimension && r[6] == group)
            .unwrap_or_else(|| panic!("no {dimension} {group} in {rows:?}"))
            .clone()
    };
    for (dimension, group) in [
        ("period", "Period 2"),
        ("location", "Room 12"),
        ("behaviour", "Calling out"),
    ] {
        let row = find(dimension, group);
        assert_eq!(
            row,
            [
                "Year 9",
                "2025-11-10",
                "2025-11-21",
                "4",
                "10",
                dimension,
                group,
                "3",
                "7.50"
            ]
        );
    }
    assert_eq!(find("pupil", "Patel, Dev")[7], "1");
    assert_eq!(find("staff", "Tess Teacher")[7], "4");
    assert!(!rows.iter().any(|r| r[6] == "Rough play"));
}

async fn others_are_refused(engine: Engine) {
    let s = Scene::new(engine).await;
    s.fortnight();
    let teacher = signed_in(&s.app, TEACHER).await;
    let (status, _) = get(&s.app, &teacher, "/insight").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = get(&s.app, &teacher, &format!("/insight.csv?{RANGE}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let hoy = signed_in(&s.app, HOY9).await;
    for path in [
        format!("/insight?scope=year&year=10&{RANGE}"),
        format!("/insight?scope=school&{RANGE}"),
        format!("/insight?scope=pupil&pupil={}&{RANGE}", s.year10),
        format!("/insight.csv?scope=year&year=10&{RANGE}"),
        format!("/insight/incidents?scope=year&year=10&{RANGE}&dimension=period&key=Period+2"),
    ] {
        let (status, _) = get(&s.app, &hoy, &path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }

    let elsewhere = s.app.create_school("ELM", "Elm School");
    let stranger = s
        .app
        .create_pupil(&elsewhere, "E100000000001", "Fay", "Stone", 9, "9B")
        .id;
    for path in [
        format!("/insight?scope=pupil&pupil={stranger}"),
        format!("/insight.csv?scope=pupil&pupil={stranger}"),
    ] {
        let (status, _) = get(&s.app, &hoy, &path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }

    // A pupil of the Head of Year's own year is theirs to see.
    let (status, page) = get(
        &s.app,
        &hoy,
        &format!("/insight?scope=pupil&pupil={}&{RANGE}", s.year9[3]),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(text_of_id(&page, "total"), "1");
}

async fn a_bad_range_is_shown_again(engine: Engine) {
    let s = Scene::new(engine).await;
    let hoy = signed_in(&s.app, HOY9).await;
    let (status, page) = get(
        &s.app,
        &hoy,
        "/insight?scope=year&year=9&from=2025-11-21&to=2025-11-10",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains(r#"id="error-to""#), "{page}");
    assert!(page.contains("must be on or after the start date"));
    assert!(page.contains(r#"value="2025-11-21""#));
    assert!(!page.contains(r#"id="headline""#));

    let (status, page) = get(
        &s.app,
        &hoy,
        "/insight?scope=year&year=9&from=2024-01-01&to=2025-11-10",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("at most 400 days"), "{page}");

    let (status, _) = get(&s.app, &hoy, "/insight.csv?from=tomorrow").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

async fn the_pupil_page_shows_the_trend_and_each_step(engine: Engine) {
    let s = Scene::new(engine).await;
    let pupil = s.year9[0];
    let today = SchoolCalendar::local_date(Utc::now());
    let day = |n: i64| today - TimeDelta::days(n);
    // Two incidents before the step up, one after.
    s.log(pupil, at(day(70), 10, 0), "Calling out", "Room 12");
    s.log(pupil, at(day(68), 10, 0), "Calling out", "Room 12");
    s.log(pupil, at(day(50), 10, 0), "Calling out", "Room 12");
    let school_id = s.school.id;
    let moved_at = at(day(60), 12, 0);
    write_transaction(&mut s.app.conn(), |c| {
        let rules = evaluation::load_rules(c, school_id)?;
        decisions::move_pupil(
            c,
            &s.slt,
            &ManualMove {
                pupil_id: pupil,
                to: Level::Time,
                reason: "Agreed at the pastoral meeting.",
                override_gates: true,
            },
            &rules,
            &NoticeContext {
                public_url: "http://127.0.0.1:8080".into(),
                mail_from: "steadfast@localhost".into(),
            },
            moved_at,
        )
    })
    .expect("moving the pupil");

    let hoy = signed_in(&s.app, HOY9).await;
    let (status, page) = get(&s.app, &hoy, &format!("/pupils/{pupil}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(r#"id="incidents-over-time""#), "{page}");
    assert!(page.contains("Patterns for this pupil"));
    assert!(page.contains(&format!("/insight?scope=pupil&amp;pupil={pupil}&amp;")));
    assert!(page.contains("Did each step help?"));
    assert!(page.contains(r#"class="verdict">fewer<"#), "{page}");

    // A class teacher sees the pupil but not their patterns.
    let teacher = signed_in(&s.app, TEACHER).await;
    let (status, page) = get(&s.app, &teacher, &format!("/pupils/{pupil}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!page.contains("incidents-over-time"));
}

async fn the_summary_comes_first_and_one_pupil_has_counts_only(engine: Engine) {
    let s = Scene::new(engine).await;
    s.fortnight();
    let client = signed_in(&s.app, HOY9).await;
    let (status, page) = get(&s.app, &client, &format!("/insight?{RANGE}")).await;
    assert_eq!(status, StatusCode::OK);
    let summary = page.find(r#"id="summary""#).expect("a summary");
    assert!(
        summary < page.find(r#"id="by-period""#).unwrap(),
        "the summary first"
    );
    for (id, group) in [
        ("summary-period", "Lesson period: Period 2"),
        ("summary-location", "Place: Room 12"),
        ("summary-behaviour", "Behaviour: Calling out"),
    ] {
        let text = text_of_li(&page, id);
        assert!(text.starts_with(group), "{text}");
        assert!(text.contains("3 (7.5 per 100 pupils a day)"), "{text}");
    }
    assert!(text_of_li(&page, "summary-period").ends_with(
        "That is, on an average school day, 7.5 incidents in Period 2 for every 100 pupils in Year 9."
    ));
    assert!(!page.contains(r#"id="summary-weekday""#), "three groups");
    // Each chart's figures are folded, and no link wraps a drawing.
    let by_place = section(&page, "by-location");
    let folded = by_place
        .find("<summary>Show the figures</summary>")
        .expect("folded");
    assert!(folded < by_place.find("<table").expect("the figures"));
    let drawing = by_place
        .split("<svg")
        .nth(1)
        .and_then(|d| d.split("</svg>").next());
    assert!(!drawing.expect("a drawing").contains("<a "));
    assert!(by_place.contains(r#"tabindex="0" role="region""#));

    // One pupil: counts, no rates.
    let (status, page) = get(
        &s.app,
        &client,
        &format!("/insight?scope=pupil&pupil={}&{RANGE}", s.year9[0]),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let report = &page[page.find(r#"id="headline""#).expect("the report")..];
    assert!(!report.contains("per 100 pupils"), "{report}");
    assert!(!report.contains(r#"id="rate""#));
    assert!(text_of_li(&page, "summary-behaviour").contains(" incident"));
    assert!(report.contains(r#"id="counts-only""#));
}

/// The text of the list item with this id, tags dropped and spaces collapsed.
fn text_of_li(page: &str, id: &str) -> String {
    let start = page
        .find(&format!(r#"id="{id}""#))
        .unwrap_or_else(|| panic!("no #{id} in the page:\n{page}"));
    let rest = &page[start..];
    let item = &rest[rest.find('>').unwrap() + 1..rest.find("</li>").unwrap()];
    let mut text = String::new();
    let mut in_tag = false;
    for c in item.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

both_engines!(
    the_summary_comes_first_and_one_pupil_has_counts_only,
    a_head_of_year_finds_the_period_place_and_behaviour,
    the_csv_holds_the_same_figures,
    others_are_refused,
    a_bad_range_is_shown_again,
    the_pupil_page_shows_the_trend_and_each_step,
);
