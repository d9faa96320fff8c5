//! The ladder and impact reports end to end on both engines: a school of ten pupils shows
//! its counts on each level, the tiers' shares beside 80/15/5 and the week-by-week flow; the
//! impact of entering level 3 is measured on the school days either side (half term
//! skipped), with the number of pupils, the small-sample caution and a step still waiting;
//! both CSVs carry the same figures; a class teacher may not see either report and a Head of
//! Year sees only their own year.

mod common;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use reqwest::StatusCode;

use common::{both_engines, page_client, spawn_app, today, Engine, Role, TestApp, PASSWORD};
use steadfast::db::decisions::{self, ManualMove};
use steadfast::db::evaluation::{self, SchoolRules};
use steadfast::db::incidents;
use steadfast::db::models::School;
use steadfast::db::notices::NoticeContext;
use steadfast::db::staff::StaffMember;
use steadfast::db::{schools, write_transaction, DbConnection};
use steadfast::domain::incident::{IncidentSubmission, NewIncident};
use steadfast::domain::{Closure, ClosureKind, Level};

const SLT: &str = "slt@elm.example";
const TEACHER: &str = "teacher@elm.example";
const HOY9: &str = "hoy9@elm.example";

struct Scene {
    app: TestApp,
    school: School,
    slt: StaffMember,
    teacher: StaffMember,
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// 10:00 London on `day`.
fn ten_am(day: NaiveDate) -> DateTime<Utc> {
    steadfast::domain::SCHOOL_TZ
        .from_local_datetime(&day.and_hms_opt(10, 0, 0).unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

impl Scene {
    /// Elm Academy with October half term 2025, SLT, a class teacher and the Year 9 Head of
    /// Year, all able to sign in.
    async fn new(engine: Engine) -> Scene {
        let app = spawn_app(engine).await;
        let school = app.create_school("ELM", "Elm Academy");
        schools::add_closure(
            &mut app.conn(),
            school.id,
            &Closure {
                starts_on: date(2025, 10, 27),
                ends_on: date(2025, 10, 31),
                kind: ClosureKind::Holiday,
                name: "October half term".into(),
            },
        )
        .unwrap();
        let slt = app.create_staff(&school, SLT, "Sam Okafor", &[Role::Slt], Some(PASSWORD));
        let teacher = app.create_staff(
            &school,
            TEACHER,
            "Tess Teacher",
            &[Role::ClassStaff],
            Some(PASSWORD),
        );
        app.create_staff_leading(
            &school,
            HOY9,
            "Hal Head",
            &[Role::PastoralLead],
            &[9],
            Some(PASSWORD),
        );
        Scene {
            app,
            school,
            slt,
            teacher,
        }
    }

    fn pupil(&self, n: usize, year: i64) -> i64 {
        self.app
            .create_pupil(
                &self.school,
                &format!("E1000000000{n:02}"),
                "Pat",
                &format!("Pupil{n}"),
                year,
                &format!("{year}A"),
            )
            .id
    }

    fn run<T>(
        &self,
        work: impl FnOnce(&mut DbConnection, &SchoolRules) -> steadfast::error::Result<T>,
    ) -> T {
        let mut conn = self.app.conn();
        let school_id = self.school.id;
        write_transaction(&mut conn, |c| {
            let rules = evaluation::load_rules(c, school_id)?;
            work(c, &rules)
        })
        .unwrap()
    }

    fn log(&self, pupil: i64, day: NaiveDate) {
        let at = ten_am(day);
        let new = NewIncident::parse(
            &IncidentSubmission {
                pupil_ids: &[pupil],
                behaviour: "Off task",
                severity: Some("minor"),
                response: Some("none"),
                occurred_at: Some(at),
                ..Default::default()
            },
            at,
        )
        .unwrap();
        self.run(|c, rules| incidents::record(c, self.school.id, self.teacher.id, &new, rules, at));
    }

    /// SLT moves a pupil to `to` at `at`, outside the usual order.
    fn move_to(&self, pupil: i64, to: Level, at: DateTime<Utc>) {
        self.run(|c, rules| {
            decisions::move_pupil(
                c,
                &self.slt,
                &ManualMove {
                    pupil_id: pupil,
                    to,
                    reason: "Agreed at the pastoral meeting.",
                    override_gates: true,
                },
                rules,
                &NoticeContext {
                    public_url: "http://127.0.0.1:8080".into(),
                    mail_from: "steadfast@localhost".into(),
                },
                at,
            )
        });
    }

    async fn signed_in(&self, email: &str) -> reqwest::Client {
        let client = page_client();
        let response = self.app.login(&client, email, PASSWORD).await;
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "signing in {email}"
        );
        client
    }

    async fn get(&self, client: &reqwest::Client, path: &str) -> (StatusCode, String) {
        let response = self.app.get_page(client, path).await;
        let status = response.status();
        (status, response.text().await.expect("a body"))
    }
}

/// The text of the table row with this id, tags dropped and spaces collapsed.
fn row_text(page: &str, id: &str) -> String {
    let marker = format!(r#"id="{id}""#);
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no #{id} in the page:\n{page}"));
    let end = start + page[start..].find("</tr>").expect("the end of the row");
    let mut text = String::new();
    let mut in_tag = true; // the marker is inside the row's opening tag
    for c in page[start..end].chars() {
        match c {
            '<' => {
                in_tag = true;
                text.push(' ');
            }
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The text of the element with this id, tags dropped and spaces collapsed.
fn text_of_id(page: &str, id: &str) -> String {
    let marker = format!(r#"id="{id}""#);
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no #{id} in the page"));
    let open = start + page[start..].find('>').expect("the end of the tag") + 1;
    let end = open + page[open..].find("</").expect("the end tag");
    page[open..end]
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The rows of a CSV body.
fn csv_rows(body: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(body.as_bytes())
        .records()
        .map(|r| {
            r.expect("a CSV record")
                .iter()
                .map(str::to_string)
                .collect()
        })
        .collect()
}

async fn the_ladder_shows_levels_tiers_and_weekly_flow(engine: Engine) {
    let s = Scene::new(engine).await;
    // Ten pupils: eight in Year 9, two in Year 10.
    let pupils: Vec<i64> = (0..10)
        .map(|n| s.pupil(n, if n < 8 { 9 } else { 10 }))
        .collect();
    // Week of 3 November: two pupils up to level 3.
    s.move_to(pupils[0], Level::Time, ten_am(date(2025, 11, 3)));
    s.move_to(pupils[1], Level::Time, ten_am(date(2025, 11, 5)));
    // Week of 10 November: one up to level 6, one up to level 2 and closed the same week.
    s.move_to(pupils[8], Level::Provision, ten_am(date(2025, 11, 10)));
    s.move_to(pupils[2], Level::Conversation, ten_am(date(2025, 11, 11)));
    s.move_to(pupils[2], Level::None, ten_am(date(2025, 11, 14)));
    // Week of 17 November: level 6 steps down to 5.
    s.move_to(pupils[8], Level::Programme, ten_am(date(2025, 11, 18)));

    let client = s.signed_in(SLT).await;
    let query = "scope=school&from=2025-11-03&to=2025-11-23";
    let (status, page) = s.get(&client, &format!("/insight/ladder?{query}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("The ladder at a glance"));
    assert!(
        page.contains(r#"href="/insight/impact""#),
        "the sub-navigation"
    );
    assert_eq!(row_text(&page, "level-0"), "No level 7 70%");
    assert_eq!(row_text(&page, "level-3"), "Level 3: Coaching Time 2 20%");
    assert_eq!(
        row_text(&page, "level-5"),
        "Level 5: Coaching Programme 1 10%"
    );
    assert_eq!(
        row_text(&page, "tier-universal"),
        "Universal (no level, levels 1-2) 7 70% 80%"
    );
    assert_eq!(
        row_text(&page, "tier-targeted"),
        "Targeted (levels 3-4) 2 20% 15%"
    );
    assert_eq!(
        row_text(&page, "tier-specialist"),
        "Specialist (levels 5-6) 1 10% 5%"
    );
    assert!(text_of_id(&page, "shape").starts_with("Top-heavy: 30%"));
    assert_eq!(row_text(&page, "week-2025-11-03"), "2025-11-03 2 0 0");
    assert_eq!(row_text(&page, "week-2025-11-10"), "2025-11-10 2 0 1");
    assert_eq!(row_text(&page, "week-2025-11-17"), "2025-11-17 0 1 0");

    // The CSV holds the same figures.
    let (status, body) = s
        .get(&client, &format!("/insight/ladder.csv?{query}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let rows = csv_rows(&body);
    let find = |section: &str, item: &str, measure: &str| -> String {
        rows.iter()
            .find(|r| r[0] == section && r[1] == item && r[2] == measure)
            .unwrap_or_else(|| panic!("no {section}/{item}/{measure} in {rows:?}"))[3]
            .clone()
    };
    assert_eq!(find("Level", "No level", "Pupils"), "7");
    assert_eq!(find("Level", "Level 3: Coaching Time", "Share (%)"), "20.0");
    assert_eq!(find("Tier", "Specialist (levels 5-6)", "Share (%)"), "10.0");
    assert_eq!(
        find("Tier", "Targeted (levels 3-4)", "Usual share (%)"),
        "15"
    );
    assert_eq!(find("Week", "2025-11-10", "Escalations"), "2");
    assert_eq!(find("Week", "2025-11-10", "Closures"), "1");
    assert_eq!(find("Week", "2025-11-17", "Step downs"), "1");

    // The Year 9 Head of Year sees Year 9 by default, and not Year 10 or the whole school.
    let hoy = s.signed_in(HOY9).await;
    let (status, page) = s.get(&hoy, "/insight/ladder").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Pupils of Year 9"));
    assert_eq!(row_text(&page, "level-0"), "No level 6 75%");
    for path in [
        "/insight/ladder?scope=year&year=10",
        "/insight/ladder?scope=school",
        "/insight/ladder.csv?scope=year&year=10",
        "/insight/impact?scope=year&year=10",
    ] {
        assert_eq!(s.get(&hoy, path).await.0, StatusCode::FORBIDDEN, "{path}");
    }
    // A class teacher sees neither report.
    let teacher = s.signed_in(TEACHER).await;
    for path in [
        "/insight/ladder",
        "/insight/ladder.csv",
        "/insight/impact",
        "/insight/impact.csv",
    ] {
        assert_eq!(
            s.get(&teacher, path).await.0,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    // A bad date is refused at its field, with what was typed kept; the page still shows
    // the figures of the default range. The download of the same choice is refused.
    for report in ["ladder", "impact"] {
        let (status, page) = s
            .get(
                &client,
                &format!("/insight/{report}?from=yesterday&level=9"),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{report}");
        assert!(
            page.contains(r#"id="error-from" data-error-for="from" role="alert">must be a date"#),
            "{page}"
        );
        assert!(page.contains(r#"value="yesterday""#), "{page}");
        assert!(page.contains("Download these figures (CSV)"), "{page}");
        assert_eq!(
            s.get(&client, &format!("/insight/{report}.csv?from=yesterday"))
                .await
                .0,
            StatusCode::BAD_REQUEST
        );
    }
    // A level that is not one is refused at its field.
    let (status, page) = s.get(&client, "/insight/impact?level=9").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        page.contains(r#"data-error-for="level" role="alert">choose a level from 1 to 6"#),
        "{page}"
    );
}

async fn impact_compares_school_days_before_and_after(engine: Engine) {
    let s = Scene::new(engine).await;
    let a = s.pupil(1, 9);
    let b = s.pupil(2, 9);
    let c = s.pupil(3, 10);
    // A enters level 3 on Monday 3 November 2025 (straight after half term). Its 15 school
    // days before run 6 October to 24 October; after, 4 to 24 November.
    for day in [
        date(2025, 10, 6),
        date(2025, 10, 8),
        date(2025, 10, 13),
        date(2025, 10, 15),
        date(2025, 10, 20),
        date(2025, 10, 22),
    ] {
        s.log(a, day);
    }
    // The entry day is in neither window; the 25th is after the window.
    s.log(a, date(2025, 11, 3));
    for day in [date(2025, 11, 5), date(2025, 11, 12), date(2025, 11, 19)] {
        s.log(a, day);
    }
    s.log(a, date(2025, 11, 25));
    s.move_to(
        a,
        Level::Time,
        ten_am(date(2025, 11, 3)) + chrono::TimeDelta::hours(2),
    );
    // B enters level 3 on Monday 17 November: 20 October to 14 November before (half term
    // skipped), 18 November to 8 December after, with no incidents after.
    for day in [date(2025, 10, 21), date(2025, 11, 4), date(2025, 11, 11)] {
        s.log(b, day);
    }
    s.move_to(
        b,
        Level::Time,
        ten_am(date(2025, 11, 17)) + chrono::TimeDelta::hours(2),
    );
    // C enters level 3 now: its school days after have not ended.
    s.move_to(c, Level::Time, Utc::now());

    let client = s.signed_in(SLT).await;
    let query = format!("scope=school&from=2025-09-01&to={}", today());
    let (status, page) = s.get(&client, &format!("/insight/impact?{query}")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Does each step work?"));
    assert!(
        page.contains(r#"href="/insight/ladder""#),
        "the sub-navigation"
    );
    assert!(text_of_id(&page, "method").contains("15 school days before"));
    assert!(text_of_id(&page, "waiting").starts_with("1 step is waiting"));
    // 9 incidents before and 3 after over 2 × 15 school days: 0.30 and 0.10 a pupil a day.
    let level_three = row_text(&page, "impact-by-level-level-3");
    assert_eq!(
        level_three,
        "Level 3: Coaching Time 2 pupils 0.30 0.10 -67% 2 0 1 only 2 pupils: read with care"
    );
    // Year 9 holds both judged pupils; Year 10's is waiting. The step was SLT's.
    assert!(row_text(&page, "impact-by-year-year-9").starts_with("Year 9 2 pupils 0.30 0.10"));
    assert!(row_text(&page, "impact-by-year-year-10").starts_with("Year 10 0 pupils - - - 0 0 1"));
    let staff_row = row_text(&page, &format!("impact-by-staff-staff-{}", s.slt.id));
    assert!(staff_row.starts_with("Sam Okafor 2 pupils 0.30 0.10 -67% 2 0 1"));

    // The CSV has the same numbers.
    let (status, body) = s
        .get(&client, &format!("/insight/impact.csv?{query}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let rows = csv_rows(&body);
    assert_eq!(rows[0][0], "Grouping");
    let level_row = rows
        .iter()
        .find(|r| r[0] == "Level" && r[1] == "Level 3: Coaching Time")
        .expect("the level 3 row");
    assert_eq!(
        level_row[2..],
        ["2", "9", "3", "30", "0.300", "0.100", "-66.7", "2", "0"]
    );
    let year_nine = rows
        .iter()
        .find(|r| r[0] == "Year group (all levels)" && r[1] == "Year 9")
        .expect("the Year 9 row");
    assert_eq!(year_nine[2..6], ["2", "9", "3", "30"]);
    let year_ten = rows
        .iter()
        .find(|r| r[0] == "Year group (all levels)" && r[1] == "Year 10")
        .expect("the Year 10 row");
    assert_eq!(year_ten[2], "0");
    let staff = rows
        .iter()
        .find(|r| r[0] == "Member of staff" && r[1] == "Sam Okafor")
        .expect("the staff row");
    assert_eq!(staff[2..5], ["2", "9", "3"]);

    // The Year 9 Head of Year sees Year 9's two pupils, and nothing waiting.
    let hoy = s.signed_in(HOY9).await;
    let (status, page) = s
        .get(
            &hoy,
            &format!(
                "/insight/impact?scope=year&year=9&from=2025-09-01&to={}",
                today()
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(text_of_id(&page, "waiting").starts_with("No steps are waiting"));
    assert!(page.contains("only 2 pupils: read with care"));
}

/// The part of `page` from the element with `id` to the end of its section.
fn section<'a>(page: &'a str, id: &str) -> &'a str {
    let start = page
        .find(&format!(r#"id="{id}""#))
        .unwrap_or_else(|| panic!("no #{id} in the page"));
    let end = start
        + page[start..]
            .find("</section>")
            .expect("the end of the section");
    &page[start..end]
}

async fn the_ladder_shows_each_figure_once_and_half_term_as_a_gap(engine: Engine) {
    let s = Scene::new(engine).await;
    let pupil = s.pupil(0, 9);
    s.move_to(pupil, Level::Time, ten_am(date(2025, 11, 3)));
    let client = s.signed_in(SLT).await;
    // Three weeks: the one before October half term, half term, and the one after.
    let (status, page) = s
        .get(
            &client,
            "/insight/ladder?scope=school&from=2025-10-20&to=2025-11-09",
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    for id in ["levels", "tiers", "flow"] {
        let part = section(&page, id);
        assert_eq!(part.matches("<table").count(), 1, "one table in #{id}");
        let folded = part.find("<summary>Show the figures</summary>");
        let table = part.find("<table");
        assert!(
            folded.is_some() && folded < table,
            "#{id}'s table is folded"
        );
        assert!(
            !part.contains("<a "),
            "no link around or in the drawing of #{id}"
        );
    }
    assert_eq!(row_text(&page, "week-2025-10-20"), "2025-10-20 0 0 0");
    assert_eq!(
        row_text(&page, "week-2025-10-27"),
        "2025-10-27 School holiday"
    );
    assert_eq!(row_text(&page, "week-2025-11-03"), "2025-11-03 1 0 0");
    let escalations = page
        .split(r#"id="escalations-chart""#)
        .nth(1)
        .and_then(|rest| rest.split("</figure>").next())
        .expect("the escalations chart");
    assert_eq!(escalations.matches(r#"<rect class="gap""#).count(), 1);
    assert_eq!(
        escalations.matches("<circle").count(),
        2,
        "no point in half term"
    );
    assert_eq!(
        escalations.matches("<polyline").count(),
        2,
        "the line breaks"
    );
}

both_engines!(
    the_ladder_shows_levels_tiers_and_weekly_flow,
    impact_compares_school_days_before_and_after,
    the_ladder_shows_each_figure_once_and_half_term_as_a_gap,
);
