//! The provision pages end to end on both engines: a SENDCO adds provision to a pupil on a
//! Bespoke Provision Map through the form and sees its costs on the printable page and in the
//! CSV; a bad cost is refused at its field and nothing is written; a review that ends a
//! provision records its exit data and outcome and keeps every review; the whole-school map
//! filters by year, level and SEN status and its totals add up; its CSV ends with the totals;
//! a class teacher may not see the map; another school's pupil is not found.

mod common;

use chrono::{Datelike, NaiveDate, TimeDelta, Utc, Weekday};
use diesel::prelude::*;
use reqwest::{header, StatusCode};

use common::{
    both_engines, csrf_token_in, location, set_level, signed_in, spawn_app, today, Engine, Role,
    TestApp, PASSWORD,
};
use steadfast::db::models::School;
use steadfast::db::plans::{self, Agreement};
use steadfast::db::programmes::{self, BlockRequest, SessionInput};
use steadfast::db::schema::{programme_sessions, provision_items, provision_reviews, pupils};
use steadfast::db::staff::StaffMember;
use steadfast::db::{evaluation, provision};
use steadfast::domain::calendar::SchoolCalendar;
use steadfast::domain::plan::{PlanSubmission, ProvisionSubmission};

const SENDCO: &str = "sendco@oak.example";
const TEACHER: &str = "teacher@oak.example";
const HOY9: &str = "hoy9@oak.example";

/// A school with its SENDCO, a class teacher and the Year 9 Head of Year (all able to sign
/// in), and Amira Okafor in Year 9 on a Bespoke Provision Map.
struct Scene {
    school: School,
    sendco: StaffMember,
    pupil: i64,
}

fn days(n: i64) -> NaiveDate {
    today() + TimeDelta::days(n)
}

fn scene(app: &TestApp) -> Scene {
    let school = app.create_school("OAK", "Oakfield Academy");
    let sendco = app.create_staff(&school, SENDCO, "Sen Co", &[Role::Sendco], Some(PASSWORD));
    app.create_staff(
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
    let pupil = app
        .create_pupil(&school, "A123456789012", "Amira", "Okafor", 9, "9B")
        .id;
    set_level(app, pupil, 6);
    Scene {
        school,
        sendco,
        pupil,
    }
}

async fn body_of(response: reqwest::Response) -> String {
    response.text().await.expect("a body")
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

/// A form's CSRF token, from any page the client may open.
async fn csrf(app: &TestApp, client: &reqwest::Client) -> String {
    csrf_token_in(&body_of(app.get_page(client, "/").await).await)
}

fn item_form(changes: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut form: Vec<(String, String)> = [
        ("what", "Reading intervention".to_string()),
        ("provider_kind", "internal".to_string()),
        ("provider_name", "Learning support team".to_string()),
        ("frequency_per_week", "3".to_string()),
        ("session_minutes", "30".to_string()),
        ("starts_on", today().to_string()),
        ("review_on", days(14).to_string()),
        ("ends_on", days(90).to_string()),
        ("cost_per_session", "12.50".to_string()),
        ("entry_data", "Reads 20 words a minute".to_string()),
        ("target", "Reads 40 words a minute".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    for (name, value) in changes {
        match form.iter_mut().find(|(k, _)| k == name) {
            Some(slot) => slot.1 = value.to_string(),
            None => form.push((name.to_string(), value.to_string())),
        }
    }
    form
}

/// Sends the form that adds provision, as a browser does after opening the page.
async fn add_through_form(
    app: &TestApp,
    client: &reqwest::Client,
    pupil: i64,
    changes: &[(&str, &str)],
) -> reqwest::Response {
    let path = format!("/pupils/{pupil}/provision");
    let page = app.get_page(client, &path).await;
    assert_eq!(page.status(), StatusCode::OK, "GET {path}");
    let mut form = item_form(changes);
    form.push(("csrf_token".into(), csrf_token_in(&body_of(page).await)));
    client
        .post(app.url(&path))
        .form(&form)
        .send()
        .await
        .expect("an answer")
}

async fn review_through_form(
    app: &TestApp,
    client: &reqwest::Client,
    item: i64,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let mut form: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    form.push(("csrf_token".into(), csrf(app, client).await));
    client
        .post(app.url(&format!("/provision/{item}/review")))
        .form(&form)
        .send()
        .await
        .expect("an answer")
}

fn items_of(app: &TestApp, pupil: i64) -> Vec<(i64, String)> {
    provision_items::table
        .filter(provision_items::pupil_id.eq(pupil))
        .order(provision_items::id)
        .select((provision_items::id, provision_items::status))
        .load(&mut *app.conn())
        .expect("reading provision")
}

fn csv_rows(body: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    let headers = reader
        .headers()
        .expect("a header row")
        .iter()
        .map(str::to_string)
        .collect();
    let rows = reader
        .records()
        .map(|r| r.expect("a CSV row").iter().map(str::to_string).collect())
        .collect();
    (headers, rows)
}

fn column(headers: &[String], name: &str) -> usize {
    headers
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name} in {headers:?}"))
}

/// Adds provision straight through the storage, as the form would.
#[allow(clippy::too_many_arguments)]
fn add_item(
    app: &TestApp,
    by: &StaffMember,
    pupil: i64,
    what: &str,
    per_week: u32,
    pence: u32,
    starts_on: NaiveDate,
    review_on: NaiveDate,
) -> i64 {
    let submission = ProvisionSubmission {
        what,
        external: true,
        provider_name: "County service",
        frequency_per_week: per_week,
        session_minutes: 45,
        starts_on: Some(starts_on),
        review_on: Some(review_on),
        ends_on: Some(days(90)),
        cost_per_session_pence: pence,
        entry_data: "Baseline",
        target: "Target",
    };
    provision::add_item(&mut app.conn(), by, pupil, &submission, Utc::now())
        .expect("adding provision")
        .id
}

async fn a_sendco_adds_provision_and_sees_its_costs(engine: Engine) {
    let app = spawn_app(engine).await;
    let s = scene(&app);
    let client = signed_in(&app, SENDCO).await;

    let pupil_page = body_of(app.get_page(&client, &format!("/pupils/{}", s.pupil)).await).await;
    assert!(
        pupil_page.contains(&format!(r#"href="/pupils/{}/provision""#, s.pupil)),
        "no link to the provision page in {pupil_page}"
    );

    let first = add_through_form(&app, &client, s.pupil, &[]).await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    assert!(
        location(&first).starts_with(&format!("/pupils/{}/provision?done=added", s.pupil)),
        "{}",
        location(&first)
    );
    let second = add_through_form(
        &app,
        &client,
        s.pupil,
        &[
            ("what", "Play therapy"),
            ("provider_kind", "external"),
            ("provider_name", "Northside Therapy Service"),
            ("frequency_per_week", "1"),
            ("session_minutes", "50"),
            ("cost_per_session", "£40"),
        ],
    )
    .await;
    assert_eq!(second.status(), StatusCode::SEE_OTHER);
    assert_eq!(items_of(&app, s.pupil).len(), 2);

    let response = app
        .get_page(
            &client,
            &format!("/pupils/{}/provision?done=added", s.pupil),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let page = body_of(response).await;
    for expected in [
        "Amira Okafor",
        "Reading intervention",
        "Internal: Learning support team",
        "Play therapy",
        "External: Northside Therapy Service",
        "3 a week, 30 minutes a session",
        "£12.50 a session",
        "£487.50",
        "£40.00 a session",
        "£520.00",
        "Reads 20 words a minute",
        "The provision is added.",
        "data-print",
    ] {
        assert!(page.contains(expected), "no {expected:?} in {page}");
    }
    assert_eq!(text_of_id(&page, "total-cost"), "£1,007.50");
    let css = body_of(app.get_page(&client, "/static/style.css").await).await;
    assert!(css.contains("@media print"), "no print stylesheet");

    let response = app
        .get_page(&client, &format!("/pupils/{}/provision.csv", s.pupil))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/csv; charset=utf-8"
    );
    let disposition = response.headers()[header::CONTENT_DISPOSITION]
        .to_str()
        .expect("a header")
        .to_string();
    assert!(disposition.starts_with("attachment"), "{disposition}");
    assert!(
        disposition.contains("A123456789012"),
        "no UPN in {disposition}"
    );
    assert!(!disposition.contains("Okafor"), "a name in {disposition}");
    let (headers, rows) = csv_rows(&body_of(response).await);
    assert_eq!(rows.len(), 3, "two items and the total: {rows:?}");
    let (what, term) = (
        column(&headers, "Provision"),
        column(&headers, "Cost per term (GBP)"),
    );
    assert_eq!(rows[0][what], "Reading intervention");
    assert_eq!(rows[0][term], "487.50");
    assert_eq!(rows[0][column(&headers, "Cost per session (GBP)")], "12.50");
    assert_eq!(rows[1][what], "Play therapy");
    assert_eq!(rows[1][term], "520.00");
    assert_eq!(rows[1][column(&headers, "Provider type")], "External");
    assert_eq!(rows[2][0], "Total");
    assert_eq!(rows[2][term], "1007.50");
}

async fn a_bad_cost_is_refused_at_its_field(engine: Engine) {
    let app = spawn_app(engine).await;
    let s = scene(&app);
    let client = signed_in(&app, SENDCO).await;

    for (typed, message) in [
        ("12.505", "at most two figures after the point"),
        ("twelve", "write the cost in pounds"),
        ("-3", "write the cost in pounds"),
        ("9000", "a session costs at most £5,000.00"),
    ] {
        let response =
            add_through_form(&app, &client, s.pupil, &[("cost_per_session", typed)]).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{typed}");
        let page = body_of(response).await;
        let slot = text_of_id(&page, "error-add-cost_per_session");
        assert!(slot.contains(message), "{typed}: {slot:?} in {page}");
        assert!(
            page.contains(&format!(r#"value="{typed}""#)),
            "what was typed is lost"
        );
        assert!(
            page.contains(r#"value="Reading intervention""#),
            "the rest of the form is lost"
        );
    }
    let response = add_through_form(&app, &client, s.pupil, &[("what", "  ")]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let page = body_of(response).await;
    assert_eq!(text_of_id(&page, "error-add-what"), "say what is provided");

    assert!(items_of(&app, s.pupil).is_empty(), "something was written");
}

async fn ending_a_provision_keeps_its_history(engine: Engine) {
    let app = spawn_app(engine).await;
    let s = scene(&app);
    let client = signed_in(&app, SENDCO).await;
    let added = add_through_form(&app, &client, s.pupil, &[]).await;
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    let item = items_of(&app, s.pupil)[0].0;

    let next = days(30).to_string();
    let first = review_through_form(
        &app,
        &client,
        item,
        &[
            ("assessment", "Reads 30 words a minute"),
            ("progress", "partly_met"),
            ("decision", "continue"),
            ("next_plan", ""),
            ("next_review_on", &next),
        ],
    )
    .await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&first),
        format!("/pupils/{}/provision?done=reviewed#item-{item}", s.pupil)
    );

    let refused = review_through_form(
        &app,
        &client,
        item,
        &[
            ("assessment", "Reads 42 words a minute"),
            ("progress", "met"),
            ("decision", "end"),
            ("next_review_on", &next),
        ],
    )
    .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let page = body_of(refused).await;
    assert_eq!(
        text_of_id(&page, &format!("error-review-{item}-next_review_on")),
        "an ended provision has no next review"
    );

    let ended = review_through_form(
        &app,
        &client,
        item,
        &[
            ("assessment", "Reads 42 words a minute"),
            ("progress", "met"),
            ("decision", "end"),
            ("next_review_on", ""),
        ],
    )
    .await;
    assert_eq!(ended.status(), StatusCode::SEE_OTHER);
    assert!(
        location(&ended).contains("done=ended"),
        "{}",
        location(&ended)
    );

    let (status, exit, outcome): (String, Option<String>, Option<String>) = provision_items::table
        .find(item)
        .select((
            provision_items::status,
            provision_items::exit_data,
            provision_items::outcome,
        ))
        .first(&mut *app.conn())
        .expect("the item");
    assert_eq!(status, "ended");
    assert_eq!(exit.as_deref(), Some("Reads 42 words a minute"));
    assert_eq!(outcome.as_deref(), Some("met"));
    let reviews: Vec<(String, String)> = provision_reviews::table
        .filter(provision_reviews::item_id.eq(item))
        .order(provision_reviews::id)
        .select((provision_reviews::assessment, provision_reviews::decision))
        .load(&mut *app.conn())
        .expect("the reviews");
    assert_eq!(
        reviews,
        vec![
            (
                "Reads 30 words a minute".to_string(),
                "continue".to_string()
            ),
            ("Reads 42 words a minute".to_string(), "end".to_string()),
        ]
    );

    let page = body_of(
        app.get_page(&client, &format!("/pupils/{}/provision", s.pupil))
            .await,
    )
    .await;
    let earlier = page
        .find("Reads 30 words a minute")
        .expect("the first review");
    let later = page
        .rfind("Reads 42 words a minute")
        .expect("the last review");
    assert!(earlier < later, "reviews out of order");
    for expected in [
        "Exit data",
        "Target met",
        "Partly met",
        "End this provision",
    ] {
        assert!(page.contains(expected), "no {expected:?} in {page}");
    }
    assert!(
        !page.contains(&format!(r#"action="/provision/{item}/review""#)),
        "an ended provision is offered for review"
    );
    assert_eq!(text_of_id(&page, "total-cost"), "£0.00");

    let again = review_through_form(
        &app,
        &client,
        item,
        &[
            ("assessment", "Again"),
            ("progress", "met"),
            ("decision", "end"),
        ],
    )
    .await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
}

async fn the_support_page_shows_the_plan_and_programme(engine: Engine) {
    let app = spawn_app(engine).await;
    let s = scene(&app);
    set_level(&app, s.pupil, 5);
    // The plan was agreed and the 2-week block started a fortnight ago (on the school day at
    // or before it, whatever weekday the test runs on).
    let mut then = Utc::now() - TimeDelta::days(14);
    while matches!(
        SchoolCalendar::local_date(then).weekday(),
        Weekday::Sat | Weekday::Sun
    ) {
        then -= TimeDelta::days(1);
    }
    let goals = [("Arrive at lessons on time", "On time to 4 lessons out of 5")];
    let steps = [("Meet at the gate each morning", "Mr Patel", Some(days(-10)))];
    let plan = PlanSubmission {
        goals: &goals,
        pathway_to_independence: "From adult prompts at the gate to arriving alone",
        action_steps: &steps,
        review_on: Some(days(20)),
    };
    let agreement = Agreement {
        pupil_id: s.pupil,
        plan: &plan,
        agreed_with: Some("Her mother"),
        meeting_id: None,
    };
    plans::agree(&mut app.conn(), &s.sendco, &agreement, then).expect("agreeing the plan");
    let rules = evaluation::load_rules(&mut app.conn(), s.school.id).expect("the rules");
    let request = BlockRequest {
        pupil_id: s.pupil,
        starts_on: Some(SchoolCalendar::local_date(then)),
        sessions_per_week: 2,
        weekdays: &[Weekday::Mon, Weekday::Thu],
        minutes: 30,
        time: None,
        place: "in_school",
        led_by: "external_professional",
        practitioner_id: None,
        practitioner_name: Some("Dr Shah"),
    };
    let block = programmes::plan_block(&mut app.conn(), &s.sendco, &request, &rules, then)
        .expect("planning the block");
    let past: Vec<i64> = programme_sessions::table
        .filter(programme_sessions::block_id.eq(block.block.id))
        .filter(programme_sessions::on_date.lt(today()))
        .select(programme_sessions::id)
        .load(&mut *app.conn())
        .expect("the sessions so far");
    assert!(!past.is_empty(), "no sessions in the last fortnight");
    for session in past {
        let delivered = SessionInput {
            outcome: "delivered",
            minutes: Some(30),
            ..SessionInput::default()
        };
        programmes::record_session(&mut app.conn(), &s.sendco, session, &delivered, Utc::now())
            .expect("recording a session");
    }
    let client = signed_in(&app, SENDCO).await;

    let page = body_of(
        app.get_page(&client, &format!("/pupils/{}/provision", s.pupil))
            .await,
    )
    .await;
    for expected in [
        "Arrive at lessons on time",
        "On time to 4 lessons out of 5",
        "From adult prompts at the gate to arriving alone",
        "Meet at the gate each morning",
        "with Her mother",
        &days(20).format("%-d %b %Y").to_string(),
        "2 weeks",
        "delivered (100%)",
        "Provision is added while the pupil is on a Bespoke Provision Map (level 6).",
    ] {
        assert!(page.contains(expected), "no {expected:?} in {page}");
    }
    assert!(
        !page.contains(&format!(r#"action="/pupils/{}/provision""#, s.pupil)),
        "provision offered below level 6"
    );

    let map = body_of(app.get_page(&client, "/provision").await).await;
    assert!(map.contains("2-week block, running"), "{map}");
    let totals = &map[map.find(r#"id="total-fidelity""#).expect("the totals")..];
    assert!(totals.contains("delivered (100%)"), "{totals}");
}

/// Amira (Year 9, level 6, two provisions, one review overdue), Ben (Year 10, level 6, EHC
/// plan, one provision), Cara (Year 9, level 4) and Dan (Year 9, level 3, not on the map).
fn map_scene(app: &TestApp, s: &Scene) -> (i64, i64, i64) {
    let ben = app
        .create_pupil(&s.school, "B123456789012", "Ben", "Ashby", 10, "10A")
        .id;
    let cara = app
        .create_pupil(&s.school, "C123456789012", "Cara", "Bello", 9, "9B")
        .id;
    let dan = app
        .create_pupil(&s.school, "D123456789012", "Dan", "Price", 9, "9C")
        .id;
    set_level(app, ben, 6);
    set_level(app, cara, 4);
    set_level(app, dan, 3);
    diesel::update(pupils::table.find(ben))
        .set(pupils::sen_status.eq("ehcp"))
        .execute(&mut *app.conn())
        .expect("an EHC plan");
    add_item(
        app,
        &s.sendco,
        s.pupil,
        "Reading intervention",
        3,
        1250,
        today(),
        days(14),
    );
    add_item(
        app,
        &s.sendco,
        s.pupil,
        "Mentoring",
        2,
        3000,
        days(-30),
        days(-2),
    );
    add_item(
        app,
        &s.sendco,
        ben,
        "Speech and language",
        1,
        4000,
        today(),
        days(40),
    );
    (ben, cara, dan)
}

async fn the_school_map_filters_and_adds_up(engine: Engine) {
    let app = spawn_app(engine).await;
    let s = scene(&app);
    map_scene(&app, &s);
    let client = signed_in(&app, SENDCO).await;

    let response = app.get_page(&client, "/provision").await;
    assert_eq!(response.status(), StatusCode::OK);
    let page = body_of(response).await;
    for name in ["Okafor, Amira", "Ashby, Ben", "Bello, Cara"] {
        assert!(page.contains(name), "no {name} in {page}");
    }
    assert!(
        !page.contains("Price, Dan"),
        "a level-3 pupil is on the map"
    );
    assert_eq!(text_of_id(&page, "total-pupils"), "3 pupils");
    assert_eq!(text_of_id(&page, "total-active"), "3 active");
    // 3 × £12.50 + 2 × £30 + 1 × £40, each for 13 weeks.
    assert_eq!(text_of_id(&page, "total-cost"), "£1,787.50");
    assert!(page.contains("£1,267.50") && page.contains("£520.00"));
    assert!(page.contains("EHC plan"));

    let reviews = &page[page.find(r#"id="reviews-due""#).expect("the reviews due")..];
    let overdue = reviews
        .find("Provision: Mentoring")
        .expect("the overdue review");
    let coming = reviews
        .find("Provision: Reading intervention")
        .expect("the review due in two weeks");
    assert!(overdue < coming, "overdue reviews come first");
    assert!(reviews.contains("overdue"));
    assert!(reviews.contains(&format!(r#"href="/pupils/{}/provision""#, s.pupil)));
    assert!(
        !reviews.contains("Speech and language"),
        "a review 40 days away is listed"
    );

    let page = body_of(app.get_page(&client, "/provision?year=9").await).await;
    assert!(page.contains("Okafor, Amira") && page.contains("Bello, Cara"));
    assert!(!page.contains("Ashby, Ben"), "Year 10 shown under Year 9");
    assert_eq!(text_of_id(&page, "total-pupils"), "2 pupils");
    assert_eq!(text_of_id(&page, "total-active"), "2 active");
    assert_eq!(text_of_id(&page, "total-cost"), "£1,267.50");

    let page = body_of(app.get_page(&client, "/provision?level=4").await).await;
    assert!(page.contains("Bello, Cara"));
    assert!(!page.contains("Okafor, Amira") && !page.contains("Ashby, Ben"));
    assert_eq!(text_of_id(&page, "total-cost"), "£0.00");

    let page = body_of(app.get_page(&client, "/provision?year=9&level=6").await).await;
    assert_eq!(text_of_id(&page, "total-pupils"), "1 pupil");
    assert!(page.contains("Okafor, Amira") && !page.contains("Bello, Cara"));

    let page = body_of(app.get_page(&client, "/provision?sen_status=ehcp").await).await;
    assert!(page.contains("Ashby, Ben") && !page.contains("Okafor, Amira"));
    assert_eq!(text_of_id(&page, "total-cost"), "£520.00");

    let response = app.get_page(&client, "/provision?level=2").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let page = body_of(response).await;
    assert_eq!(
        text_of_id(&page, "error-level"),
        "the map shows levels 4, 5 and 6"
    );
}

async fn the_map_csv_ends_with_its_totals(engine: Engine) {
    let app = spawn_app(engine).await;
    let s = scene(&app);
    map_scene(&app, &s);
    let client = signed_in(&app, SENDCO).await;

    let response = app.get_page(&client, "/provision.csv").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/csv; charset=utf-8"
    );
    assert!(response.headers()[header::CONTENT_DISPOSITION]
        .to_str()
        .expect("a header")
        .starts_with("attachment"));
    let (headers, rows) = csv_rows(&body_of(response).await);
    let cost = column(&headers, "Cost per term (GBP)");
    assert_eq!(rows.len(), 4, "three pupils and the totals: {rows:?}");
    let pupils_total: u64 = rows[..3]
        .iter()
        .map(|r| r[cost].replace('.', "").parse::<u64>().expect("pence"))
        .sum();
    let totals = &rows[3];
    assert_eq!(totals[0], "Total");
    assert_eq!(totals[column(&headers, "Pupil")], "3 pupils");
    assert_eq!(totals[column(&headers, "Active provision")], "3 active");
    assert_eq!(totals[cost], "1787.50");
    assert_eq!(pupils_total, 178_750);

    let (_, rows) =
        csv_rows(&body_of(app.get_page(&client, "/provision.csv?year=9&level=6").await).await);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0][0], "A123456789012");
    assert_eq!(rows[1][0], "Total");
    assert_eq!(rows[1][cost], "1267.50");

    let bad = app.get_page(&client, "/provision.csv?year=nine").await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}

async fn a_class_teacher_may_not_see_provision(engine: Engine) {
    let app = spawn_app(engine).await;
    let s = scene(&app);
    let teacher = signed_in(&app, TEACHER).await;

    for path in [
        "/provision".to_string(),
        "/provision.csv".to_string(),
        format!("/pupils/{}/provision", s.pupil),
        format!("/pupils/{}/provision.csv", s.pupil),
    ] {
        let response = app.get_page(&teacher, &path).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
    }
    let mut form = item_form(&[]);
    form.push(("csrf_token".into(), csrf(&app, &teacher).await));
    let response = teacher
        .post(app.url(&format!("/pupils/{}/provision", s.pupil)))
        .form(&form)
        .send()
        .await
        .expect("an answer");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(items_of(&app, s.pupil).is_empty());
    let page = body_of(
        app.get_page(&teacher, &format!("/pupils/{}", s.pupil))
            .await,
    )
    .await;
    assert!(
        !page.contains(&format!("/pupils/{}/provision", s.pupil)),
        "a class teacher is offered the provision page"
    );

    // The Head of Year sees their pupil's provision, not the whole school's map.
    let hoy = signed_in(&app, HOY9).await;
    let own = app
        .get_page(&hoy, &format!("/pupils/{}/provision", s.pupil))
        .await;
    assert_eq!(own.status(), StatusCode::OK);
    assert_eq!(
        app.get_page(&hoy, "/provision").await.status(),
        StatusCode::FORBIDDEN
    );
}

async fn another_schools_pupil_is_not_found(engine: Engine) {
    let app = spawn_app(engine).await;
    scene(&app);
    let south = app.create_school("SOUTH", "South School");
    let their_sendco = app.create_staff(
        &south,
        "sendco@south.example",
        "Sol Sendco",
        &[Role::Sendco],
        None,
    );
    let theirs = app
        .create_pupil(&south, "S123456789012", "Bea", "Bright", 9, "9S")
        .id;
    set_level(&app, theirs, 6);
    let their_item = add_item(
        &app,
        &their_sendco,
        theirs,
        "Counselling",
        1,
        2000,
        today(),
        days(20),
    );
    let client = signed_in(&app, SENDCO).await;

    for path in [
        format!("/pupils/{theirs}/provision"),
        format!("/pupils/{theirs}/provision.csv"),
    ] {
        let response = app.get_page(&client, &path).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(
            !body_of(response).await.contains("Bright"),
            "{path} leaks the pupil"
        );
    }
    let review = review_through_form(
        &app,
        &client,
        their_item,
        &[
            ("assessment", "Seen"),
            ("progress", "met"),
            ("decision", "end"),
        ],
    )
    .await;
    assert_eq!(review.status(), StatusCode::NOT_FOUND);
    let mut form = item_form(&[]);
    form.push(("csrf_token".into(), csrf(&app, &client).await));
    let add = client
        .post(app.url(&format!("/pupils/{theirs}/provision")))
        .form(&form)
        .send()
        .await
        .expect("an answer");
    assert_eq!(add.status(), StatusCode::NOT_FOUND);
    assert_eq!(items_of(&app, theirs).len(), 1);
    let map = body_of(app.get_page(&client, "/provision").await).await;
    assert!(
        !map.contains("Bright"),
        "the map shows another school's pupil"
    );
}

both_engines!(
    a_sendco_adds_provision_and_sees_its_costs,
    a_bad_cost_is_refused_at_its_field,
    ending_a_provision_keeps_its_history,
    the_school_map_filters_and_adds_up,
    the_map_csv_ends_with_its_totals,
    a_class_teacher_may_not_see_provision,
    the_support_page_shows_the_plan_and_programme,
    another_schools_pupil_is_not_found,
);
