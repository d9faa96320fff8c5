//! The escalation policy page over plain HTTP, on SQLite and on PostgreSQL: who may see it,
//! a figure out of range refused on its field, saving a new version that the suggestions made
//! from then on record, and the preview that replays the school's records under a draft
//! without saving anything.

mod common;

use common::{both_engines, csrf_token_in, location, page_client, spawn_app, Engine, Role};
use common::{TestApp, PASSWORD};
use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use steadfast::db::models::School;
use steadfast::db::pupils::PupilView;
use steadfast::db::schema;
use steadfast::db::staff::StaffMember;
use steadfast::domain::EscalationPolicy;

const TEACHER: &str = "tess@north.example";
const ADMIN: &str = "ada@north.example";
const SLT: &str = "sam@north.example";

/// A school with a class teacher (who also holds an API token), an administrator, a senior
/// leader and two pupils.
struct Arranged {
    app: TestApp,
    school: School,
    admin: StaffMember,
    token: String,
    amira: PupilView,
    ben: PupilView,
}

async fn arrange(engine: Engine) -> Arranged {
    let app = spawn_app(engine).await;
    let school = app.create_school("NORTH", "North Academy");
    let teacher = app.create_staff(
        &school,
        TEACHER,
        "Tess Teacher",
        &[Role::ClassStaff],
        Some(PASSWORD),
    );
    let token = app.create_token(&teacher);
    let admin = app.create_staff(&school, ADMIN, "Ada Admin", &[Role::Admin], Some(PASSWORD));
    app.create_staff(&school, SLT, "Sam Senior", &[Role::Slt], Some(PASSWORD));
    let amira = app.create_pupil(&school, "A123456789012", "Amira", "Okafor", 8, "8B");
    let ben = app.create_pupil(&school, "B123456789012", "Ben", "Ash", 8, "8B");
    Arranged {
        app,
        school,
        admin,
        token,
        amira,
        ben,
    }
}

/// A client signed in as `email`, and the CSRF token of its session (read from `/log`,
/// which every member of staff may open).
async fn signed_in(app: &TestApp, email: &str) -> (reqwest::Client, String) {
    let client = page_client();
    let response = app.login(&client, email, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "signing in");
    let page = app.get_page(&client, "/log").await;
    assert_eq!(page.status(), StatusCode::OK, "GET /log");
    let csrf = csrf_token_in(&page.text().await.expect("the page"));
    (client, csrf)
}

/// The policy form as the page fills it for the defaults, with some figures changed.
fn policy_form(csrf: &str, action: &str, changes: &[(&str, &str)]) -> Vec<(String, String)> {
    let defaults = EscalationPolicy::default();
    let mut fields = vec![
        ("csrf_token".to_string(), csrf.to_string()),
        ("version".to_string(), "1".to_string()),
    ];
    for field in EscalationPolicy::fields() {
        let value = changes
            .iter()
            .find(|(name, _)| *name == field.name)
            .map(|(_, value)| value.to_string())
            .unwrap_or_else(|| defaults.get(field.name).expect("a figure").to_string());
        fields.push((field.name.to_string(), value));
    }
    let weeks = changes
        .iter()
        .find(|(name, _)| *name == "weeks")
        .map_or("6", |(_, value)| value);
    fields.push(("weeks".to_string(), weeks.to_string()));
    fields.push(("action".to_string(), action.to_string()));
    fields
}

async fn post_policy(
    app: &TestApp,
    client: &reqwest::Client,
    fields: &[(String, String)],
) -> reqwest::Response {
    client
        .post(app.url("/admin/policy"))
        .form(fields)
        .send()
        .await
        .expect("an answer")
}

async fn body(response: reqwest::Response) -> String {
    response.text().await.expect("a body")
}

fn policy_count(app: &TestApp) -> i64 {
    schema::policies::table
        .count()
        .get_result(&mut *app.conn())
        .expect("counting policy versions")
}

fn suggestion_count(app: &TestApp) -> i64 {
    schema::suggestions::table
        .count()
        .get_result(&mut *app.conn())
        .expect("counting suggestions")
}

fn policy_audits(app: &TestApp) -> Vec<String> {
    schema::audit_log::table
        .filter(schema::audit_log::action.eq("policy.save"))
        .order(schema::audit_log::id)
        .select(schema::audit_log::detail)
        .load(&mut *app.conn())
        .expect("reading the audit log")
}

/// Logs a Coaching Prompt for a pupil through the API, as class staff do; answers the body.
async fn log_prompt(s: &Arranged, pupil: &PupilView) -> Value {
    let (status, body) = s
        .app
        .api_post(
            "/api/v1/incidents",
            &s.token,
            &json!({
                "pupil_ids": [pupil.id],
                "behaviour": "Off task",
                "severity": "minor",
                "response": "prompt",
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

/// The current and draft counts of one row of the preview table.
fn preview_row(page: &str, id: &str) -> (u32, u32) {
    let start = page
        .find(&format!(r#"id="{id}""#))
        .unwrap_or_else(|| panic!("no row {id} in the page:\n{page}"));
    let row = &page[start..start + page[start..].find("</tr>").expect("the end of the row")];
    let cell = |class: &str| -> u32 {
        let marker = format!(r#"class="num {class}">"#);
        let from = row
            .find(&marker)
            .unwrap_or_else(|| panic!("no {class} in {row}"))
            + marker.len();
        let to = from + row[from..].find('<').expect("the end of the cell");
        row[from..to].parse().expect("a count")
    };
    (cell("current"), cell("draft"))
}

async fn class_staff_may_not_see_or_change_the_policy(engine: Engine) {
    let s = arrange(engine).await;
    let (teacher, csrf) = signed_in(&s.app, TEACHER).await;

    let page = s.app.get_page(&teacher, "/admin/policy").await;
    assert_eq!(page.status(), StatusCode::FORBIDDEN);
    let log = body(s.app.get_page(&teacher, "/log").await).await;
    assert!(!log.contains(r#"href="/admin/policy""#), "{log}");
    let fields = policy_form(&csrf, "save", &[("prompts_for_conversation", "2")]);
    let refused = post_policy(&s.app, &teacher, &fields).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let fields = policy_form(&csrf, "preview", &[("prompts_for_conversation", "2")]);
    let refused = post_policy(&s.app, &teacher, &fields).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(policy_count(&s.app), 1);

    // Senior leaders and administrators find it in the navigation, every figure filled in.
    for email in [ADMIN, SLT] {
        let (client, _) = signed_in(&s.app, email).await;
        let page = s.app.get_page(&client, "/admin/policy").await;
        assert_eq!(page.status(), StatusCode::OK, "{email}");
        let page = body(page).await;
        assert!(page.contains(r#"href="/admin/policy""#), "{page}");
        for field in EscalationPolicy::fields() {
            assert!(
                page.contains(&format!(r#"name="{}""#, field.name)),
                "{}",
                field.name
            );
            assert!(page.contains(field.label), "{}", field.label);
        }
        assert!(
            page.contains(
                r#"name="prompts_for_conversation" min="1" max="20" step="1" required value="3""#
            ),
            "{page}"
        );
        assert!(
            page.contains(r#"id="current-version">Version <strong>1</strong> is in use"#),
            "{page}"
        );
        assert!(page.contains(r#"name="action" value="preview""#));
        assert!(page.contains(r#"name="action" value="save""#));
    }

    // A form without its CSRF token is refused too.
    let (admin, _) = signed_in(&s.app, ADMIN).await;
    let mut forged = policy_form("", "save", &[("prompts_for_conversation", "2")]);
    forged.retain(|(name, _)| name != "csrf_token");
    let refused = post_policy(&s.app, &admin, &forged).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(policy_count(&s.app), 1);
}

async fn a_figure_out_of_range_is_shown_on_its_field_and_nothing_is_saved(engine: Engine) {
    let s = arrange(engine).await;
    let (admin, csrf) = signed_in(&s.app, ADMIN).await;

    for action in ["save", "preview"] {
        let fields = policy_form(
            &csrf,
            action,
            &[
                ("prompts_for_conversation", "0"),
                ("prompt_window_days", "4"),
            ],
        );
        let response = post_policy(&s.app, &admin, &fields).await;

        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{action}");
        let page = body(response).await;
        assert!(
            page.contains(
                r#"data-error-for="prompts_for_conversation" role="alert">Prompts before a Coaching Conversation must be between 1 and 20<"#
            ),
            "{page}"
        );
        // The figures are shown as given, the other fields without a problem.
        assert!(
            page.contains(r#"max="20" step="1" required value="0""#),
            "{page}"
        );
        assert!(
            page.contains(r#"max="60" step="1" required value="4""#),
            "{page}"
        );
        assert!(page.contains(r#"data-error-for="prompt_window_days" role="alert" hidden"#));
        assert!(
            !page.contains(r#"id="preview""#),
            "no preview of a refused draft"
        );
    }
    // Not a number, and weeks out of range, are refused on their fields as well.
    let fields = policy_form(
        &csrf,
        "preview",
        &[("time_window_days", "ten"), ("weeks", "27")],
    );
    let response = post_policy(&s.app, &admin, &fields).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let page = body(response).await;
    assert!(page.contains(r#"data-error-for="time_window_days" role="alert">Coaching Time window must be a whole number<"#), "{page}");
    assert!(
        page.contains(
            r#"data-error-for="weeks" role="alert">The preview looks back between 1 and 26 weeks<"#
        ),
        "{page}"
    );
    // Markup in a value is shown as text.
    let fields = policy_form(&csrf, "save", &[("coaching_time_minutes", "<b>30</b>")]);
    let page = body(post_policy(&s.app, &admin, &fields).await).await;
    assert!(page.contains("&lt;b&gt;30&lt;/b&gt;"), "{page}");
    assert!(!page.contains("<b>30</b>"));

    assert_eq!(policy_count(&s.app), 1);
    assert!(policy_audits(&s.app).is_empty());
}

async fn saving_makes_version_2_with_its_changes_audited(engine: Engine) {
    let s = arrange(engine).await;
    let (admin, csrf) = signed_in(&s.app, ADMIN).await;

    let fields = policy_form(&csrf, "save", &[("prompts_for_conversation", "2")]);
    let response = post_policy(&s.app, &admin, &fields).await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/admin/policy?saved=2");
    let (version, stored, by): (i32, String, Option<i64>) = schema::policies::table
        .filter(schema::policies::school_id.eq(s.school.id))
        .order(schema::policies::version.desc())
        .select((
            schema::policies::version,
            schema::policies::body,
            schema::policies::created_by,
        ))
        .first(&mut *s.app.conn())
        .expect("the latest version");
    assert_eq!(version, 2);
    assert_eq!(by, Some(s.admin.id));
    let stored = EscalationPolicy::parse_json(&stored).expect("a valid policy");
    assert_eq!(
        stored,
        EscalationPolicy {
            prompts_for_conversation: 2,
            ..EscalationPolicy::default()
        }
    );
    assert_eq!(
        policy_audits(&s.app),
        vec!["version 2: prompts_for_conversation 3 -> 2"]
    );

    let page = body(s.app.get_page(&admin, "/admin/policy?saved=2").await).await;
    assert!(page.contains("Version 2 saved"), "{page}");
    assert!(
        page.contains(r#"id="current-version">Version <strong>2</strong> is in use"#),
        "{page}"
    );
    assert!(page.contains(
        r#"name="prompts_for_conversation" min="1" max="20" step="1" required value="2""#
    ));
    assert!(
        page.contains("<td>Ada Admin</td>"),
        "the history names who saved it"
    );
    assert!(page.contains("Save as version 3"));

    // Saving the same figures again makes no new version.
    let mut same = policy_form(&csrf, "save", &[("prompts_for_conversation", "2")]);
    for (name, value) in &mut same {
        if name == "version" {
            *value = "2".to_string();
        }
    }
    let response = post_policy(&s.app, &admin, &same).await;
    assert_eq!(location(&response), "/admin/policy?unchanged=1");
    assert_eq!(policy_count(&s.app), 2);

    // A form opened before version 2 was saved is refused rather than undoing it.
    let stale = policy_form(&csrf, "save", &[("coaching_time_minutes", "40")]);
    let response = post_policy(&s.app, &admin, &stale).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let page = body(response).await;
    assert!(
        page.contains("Version 2 of the policy was saved while you were editing"),
        "{page}"
    );
    assert_eq!(policy_count(&s.app), 2);
    assert_eq!(policy_audits(&s.app).len(), 1);
}

async fn with_two_prompts_enough_two_prompts_suggest_a_conversation_under_version_2(
    engine: Engine,
) {
    let s = arrange(engine).await;
    // Under the defaults, two prompts suggest nothing.
    log_prompt(&s, &s.ben).await;
    let second = log_prompt(&s, &s.ben).await;
    assert_eq!(second["suggestions"], json!([]), "{second}");

    let (admin, csrf) = signed_in(&s.app, ADMIN).await;
    let fields = policy_form(&csrf, "save", &[("prompts_for_conversation", "2")]);
    let response = post_policy(&s.app, &admin, &fields).await;
    assert_eq!(location(&response), "/admin/policy?saved=2");

    log_prompt(&s, &s.amira).await;
    let second = log_prompt(&s, &s.amira).await;
    let suggestions = second["suggestions"].as_array().expect("suggestions");
    assert_eq!(suggestions.len(), 1, "{second}");
    assert_eq!(suggestions[0]["to_level"], 2);
    let id = suggestions[0]["id"].as_i64().expect("an id");
    let version: i32 = schema::suggestions::table
        .find(id)
        .select(schema::suggestions::policy_version)
        .first(&mut *s.app.conn())
        .expect("the suggestion");
    assert_eq!(version, 2);
    assert_eq!(suggestion_count(&s.app), 1);
}

async fn the_preview_shows_more_conversations_under_a_draft_of_two_and_saves_nothing(
    engine: Engine,
) {
    let s = arrange(engine).await;
    // Amira's third prompt suggested a Coaching Conversation; Ben had two prompts.
    for _ in 0..3 {
        log_prompt(&s, &s.amira).await;
    }
    for _ in 0..2 {
        log_prompt(&s, &s.ben).await;
    }
    assert_eq!(suggestion_count(&s.app), 1);
    let (admin, csrf) = signed_in(&s.app, ADMIN).await;

    let fields = policy_form(&csrf, "preview", &[("prompts_for_conversation", "2")]);
    let response = post_policy(&s.app, &admin, &fields).await;

    assert_eq!(response.status(), StatusCode::OK);
    let page = body(response).await;
    assert!(page.contains("Preview: the last 6 weeks"), "{page}");
    assert!(page.contains("Nothing has been saved"), "{page}");
    assert!(page.contains("5 incidents for 2 pupils"), "{page}");
    assert_eq!(preview_row(&page, "preview-level-2"), (1, 2));
    assert_eq!(
        preview_row(&page, "preview-rule-prompts_to_conversation"),
        (1, 2)
    );
    assert_eq!(preview_row(&page, "preview-pupils"), (1, 2));
    assert_eq!(preview_row(&page, "preview-level-3"), (0, 0));
    // The draft stays in the form, still to be saved.
    assert!(page.contains(
        r#"name="prompts_for_conversation" min="1" max="20" step="1" required value="2""#
    ));
    assert!(page.contains(r#"id="current-version">Version <strong>1</strong> is in use"#));

    // The current figures replay to the same counts; a longer look back changes nothing here.
    let fields = policy_form(&csrf, "preview", &[("weeks", "26")]);
    let page = body(post_policy(&s.app, &admin, &fields).await).await;
    assert!(page.contains("Preview: the last 26 weeks"), "{page}");
    assert_eq!(preview_row(&page, "preview-level-2"), (1, 1));
    assert_eq!(preview_row(&page, "preview-total"), (1, 1));

    // Needing four prompts, the draft makes fewer.
    let fields = policy_form(&csrf, "preview", &[("prompts_for_conversation", "4")]);
    let page = body(post_policy(&s.app, &admin, &fields).await).await;
    assert_eq!(preview_row(&page, "preview-level-2"), (1, 0));

    assert_eq!(policy_count(&s.app), 1);
    assert_eq!(suggestion_count(&s.app), 1);
    assert!(policy_audits(&s.app).is_empty());
}

both_engines!(
    class_staff_may_not_see_or_change_the_policy,
    a_figure_out_of_range_is_shown_on_its_field_and_nothing_is_saved,
    saving_makes_version_2_with_its_changes_audited,
    with_two_prompts_enough_two_prompts_suggest_a_conversation_under_version_2,
    the_preview_shows_more_conversations_under_a_draft_of_two_and_saves_nothing,
);
