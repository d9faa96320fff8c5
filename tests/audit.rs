//! Reads of sensitive records are audited, and the audit page shows them, on both engines: a
//! SENDCO opening a pupil's plan is recorded with the right actor, pupil and action; opening
//! a pupil on the SEN register is recorded and opening one who is not is not; the audit page
//! filters by person, pupil (reads and changes of their records), action and dates, pages
//! with a link to older entries, and downloads the filtered log as formula-safe CSV; class
//! staff are refused.

mod common;

use chrono::{TimeDelta, Utc};
use diesel::prelude::*;
use reqwest::StatusCode;

use common::{both_engines, page as get, signed_in, spawn_app, Engine, Role, TestApp, PASSWORD};
use steadfast::db::plans::{self, Agreement};
use steadfast::db::schema::{audit_log, pupils};
use steadfast::domain::calendar::SchoolCalendar;
use steadfast::domain::plan::PlanSubmission;

const UPN: &str = "A123456789012";

/// The reads recorded in the audit log: (actor, action, entity, entity id).
fn reads(app: &TestApp) -> Vec<(Option<i64>, String, String, Option<i64>)> {
    audit_log::table
        .filter(
            audit_log::action
                .like("%.read")
                .or(audit_log::action.like("%.export")),
        )
        .order(audit_log::id)
        .select((
            audit_log::actor_id,
            audit_log::action,
            audit_log::entity,
            audit_log::entity_id,
        ))
        .load(&mut *app.conn())
        .expect("the audit log")
}

async fn reads_are_audited_and_listed(engine: Engine) {
    let app = spawn_app(engine).await;
    let school = app.create_school("OAK", "Oakfield Academy");
    let sendco = app.create_staff(
        &school,
        "sendco@oak.example",
        "Sen Co",
        &[Role::Sendco],
        Some(PASSWORD),
    );
    app.create_staff(
        &school,
        "slt@oak.example",
        "Sal Lead",
        &[Role::Slt],
        Some(PASSWORD),
    );
    app.create_staff(
        &school,
        "teacher@oak.example",
        "Tess Teacher",
        &[Role::ClassStaff],
        Some(PASSWORD),
    );
    // A name a spreadsheet would read as a formula.
    let sly = app.create_staff(
        &school,
        "sly@oak.example",
        "=HYPERLINK(1)",
        &[Role::Slt],
        Some(PASSWORD),
    );
    let pupil = app
        .create_pupil(&school, UPN, "Amira", "Okafor", 9, "9B")
        .id;
    let other = app
        .create_pupil(&school, "B123456789012", "Ben", "Ade", 9, "9B")
        .id;
    diesel::update(pupils::table.find(pupil))
        .set((pupils::level.eq(4i16), pupils::sen_status.eq("sen_support")))
        .execute(&mut *app.conn())
        .expect("a pupil at level 4 on the SEN register");
    let today = SchoolCalendar::local_date(Utc::now());
    let goals = [("Arrive on time", "On time 4 days out of 5")];
    let steps = [("Meet at the gate", "Mr Patel", Some(today))];
    let plan = PlanSubmission {
        goals: &goals,
        pathway_to_independence: "From prompts to arriving alone",
        action_steps: &steps,
        review_on: Some(today + TimeDelta::days(20)),
    };
    let agreement = Agreement {
        pupil_id: pupil,
        plan: &plan,
        agreed_with: None,
        meeting_id: None,
    };
    plans::agree(&mut app.conn(), &sendco, &agreement, Utc::now()).expect("agreeing the plan");
    assert!(reads(&app).is_empty());

    // The SENDCO opens the plan: one read, theirs, of this pupil's plan.
    let client = signed_in(&app, "sendco@oak.example").await;
    let (status, _) = get(&app, &client, &format!("/pupils/{pupil}/plan")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        reads(&app),
        vec![(
            Some(sendco.id),
            "plan.read".to_string(),
            "pupil".to_string(),
            Some(pupil)
        )]
    );
    // Opening a pupil on the SEN register is a read of their SEN status; one not on it is not.
    let (status, _) = get(&app, &client, &format!("/pupils/{pupil}")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = get(&app, &client, &format!("/pupils/{other}")).await;
    assert_eq!(status, StatusCode::OK);
    let actions: Vec<String> = reads(&app).into_iter().map(|r| r.1).collect();
    assert_eq!(actions, ["plan.read", "sen_status.read"]);
    // A refused read records nothing.
    let teacher = signed_in(&app, "teacher@oak.example").await;
    let (status, _) = get(&app, &teacher, &format!("/pupils/{pupil}/plan")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(reads(&app).len(), 2);
    // The other SLT member downloads the pupil's provision.
    let sly_client = signed_in(&app, "sly@oak.example").await;
    let (status, _) = get(&app, &sly_client, &format!("/pupils/{pupil}/provision.csv")).await;
    assert_eq!(status, StatusCode::OK);

    // Class staff may not read the audit log, in either form.
    for path in ["/admin/audit", "/admin/audit.csv"] {
        let (status, _) = get(&app, &teacher, path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }

    // SLT filter it.
    let slt = signed_in(&app, "slt@oak.example").await;
    let (status, page) = get(&app, &slt, "/admin/audit").await;
    assert_eq!(status, StatusCode::OK);
    for expected in ["plan.read", "sen_status.read", "provision.export"] {
        assert!(page.contains(expected), "{expected}");
    }
    let by_sendco = format!(
        "/admin/audit?staff={}&pupil={UPN}&action=plan.read",
        sendco.id
    );
    let (status, page) = get(&app, &slt, &by_sendco).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page.matches("<tr>").count(), 2, "a heading and one entry");
    assert!(page.contains("Sen Co") && page.contains(UPN) && page.contains("plan.read"));
    let by_sly = format!("/admin/audit?staff={}&action=plan.read", sly.id);
    let (_, page) = get(&app, &slt, &by_sly).await;
    assert!(page.contains("No entries match."));
    let tomorrow = today + TimeDelta::days(1);
    let (_, page) = get(&app, &slt, &format!("/admin/audit?from={tomorrow}")).await;
    assert!(page.contains("No entries match."));
    let (_, page) = get(
        &app,
        &slt,
        &format!("/admin/audit?to={today}&action=plan.read"),
    )
    .await;
    assert_eq!(page.matches("<tr>").count(), 2);
    let (status, page) = get(&app, &slt, "/admin/audit?pupil=Z999999999999").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("no pupil of this school has that UPN"));
    let (status, _) = get(&app, &slt, "/admin/audit?from=yesterday").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Paging: one entry a page, newest first, each page linking to the next.
    let mut path = format!("/admin/audit?pupil={UPN}&limit=1");
    let mut seen = Vec::new();
    for _ in 0..10 {
        let (status, page) = get(&app, &slt, &path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(page.matches("<tr>").count(), 2, "{path}");
        let action = [
            "provision.export",
            "sen_status.read",
            "plan.read",
            "plan.agreed",
        ]
        .into_iter()
        .find(|a| page.contains(&format!("<td class=\"mono\">{a}</td>")))
        .unwrap_or("another action");
        seen.push(action);
        let Some(start) = page.find("href=\"/admin/audit?") else {
            break;
        };
        let end = start + 6 + page[start + 6..].find('"').expect("the end of the link");
        path = page[start + 6..end].replace("&amp;", "&");
        if !path.contains("cursor=") {
            break;
        }
    }
    assert_eq!(
        seen,
        [
            "provision.export",
            "sen_status.read",
            "plan.read",
            "plan.agreed"
        ],
        "the pupil's reads and the plan's agreement, newest first, one a page"
    );

    // The CSV of the filtered log, with the formula-like name made safe.
    let response = slt
        .get(app.url(&format!("/admin/audit.csv?pupil={UPN}")))
        .send()
        .await
        .expect("the CSV");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/csv")));
    let body = response.text().await.expect("a body");
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(
        lines.len(),
        5,
        "a heading, three reads and the plan:\n{body}"
    );
    assert!(lines[0].starts_with("When (UTC),Staff id,Staff,Action"));
    assert!(lines[1].contains("'=HYPERLINK(1)") && lines[1].contains("provision.export"));
    assert!(
        lines[3].contains("Sen Co") && lines[3].contains("plan.read") && lines[3].contains(UPN)
    );
    assert!(!body.contains("Amira") && !body.contains("Okafor"));
}

both_engines!(reads_are_audited_and_listed);
