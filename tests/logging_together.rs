//! Logging incidents together (`db::logging::log_all`, what each group commit of the writer
//! runs), on both engines: a batch leaves the same record as the same requests logged one by
//! one, and a request that is refused, or repeats a key, leaves the others logged.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{TimeDelta, Utc};
use diesel::prelude::*;

use common::{both_engines, spawn_app, Engine, Role, TestApp};
use steadfast::accounts;
use steadfast::db::idempotency::IdempotencyKey;
use steadfast::db::incidents::RecordedIncident;
use steadfast::db::logging::{self, Caches, Caller, LogRequest, Logged};
use steadfast::db::models::School;
use steadfast::db::staff::StaffMember;
use steadfast::db::{schema, tokens, DbConnection};
use steadfast::domain::incident::{IncidentSubmission, NewIncident};
use steadfast::error::{Error, Result};

/// Keeps the pupils' UPNs apart across schools.
static NEXT_UPN: AtomicU64 = AtomicU64::new(1);

/// A school with a class teacher and `pupils` pupils: the teacher and the pupils' ids.
fn school_of(app: &TestApp, code: &str, pupils: usize) -> (School, StaffMember, Vec<i64>) {
    let school = app.create_school(code, &format!("{code} School"));
    let teacher = app.create_staff(
        &school,
        &format!("t@{}.example", code.to_lowercase()),
        "Tess Teacher",
        &[Role::ClassStaff],
        None,
    );
    let ids = (0..pupils)
        .map(|n| {
            let upn = format!("B{:011}{n}", NEXT_UPN.fetch_add(1, Ordering::Relaxed));
            app.create_pupil(&school, &upn, "Sam", &format!("Okafor{n}"), 9, "9B")
                .id
        })
        .collect();
    (school, teacher, ids)
}

/// The answer kept for a logged incident in these tests: its id.
fn id_of(recorded: RecordedIncident) -> Result<String> {
    Ok(recorded.incident.id.to_string())
}

/// A prompt for `pupils`, `minutes_ago` minutes ago.
fn prompt(pupils: &[i64], minutes_ago: i64) -> NewIncident {
    let now = Utc::now();
    NewIncident::parse(
        &IncidentSubmission {
            pupil_ids: pupils,
            behaviour: "Off task",
            severity: Some("minor"),
            response: Some("prompt"),
            occurred_at: Some(now - TimeDelta::minutes(minutes_ago)),
            ..IncidentSubmission::default()
        },
        now,
    )
    .expect("a valid incident")
}

fn request(caller: Caller, key: Option<&str>, new: NewIncident) -> LogRequest {
    LogRequest {
        caller,
        key: key.map(|k| IdempotencyKey::parse("Idempotency-Key", k).expect("a key")),
        request_hash: format!("hash of {key:?}"),
        new,
        now: Utc::now(),
        answer_body: id_of,
    }
}

/// Logs the requests as one batch of the writer does: together, in one transaction.
fn log_batch(app: &TestApp, requests: &[LogRequest]) -> Vec<Result<Logged>> {
    let caches = Caches::default();
    let batch: Vec<&LogRequest> = requests.iter().collect();
    app.conn()
        .transaction(|conn: &mut DbConnection| logging::log_all(conn, &batch, &caches))
        .expect("the batch to commit")
}

/// What the record says of a pupil: level, open suggestions (their target levels), and the
/// incidents counted on their days.
fn record_of(conn: &mut DbConnection, pupil: i64) -> (i16, Vec<i16>, i64) {
    let level = schema::pupils::table
        .find(pupil)
        .select(schema::pupils::level)
        .get_result(conn)
        .expect("the pupil");
    let suggested = schema::suggestions::table
        .filter(schema::suggestions::pupil_id.eq(pupil))
        .order(schema::suggestions::to_level)
        .select(schema::suggestions::to_level)
        .load(conn)
        .expect("suggestions");
    let counted: Option<i64> = schema::pupil_day_incidents::table
        .filter(schema::pupil_day_incidents::pupil_id.eq(pupil))
        .select(diesel::dsl::sum(schema::pupil_day_incidents::incidents))
        .get_result(conn)
        .expect("daily counts");
    (level, suggested, counted.unwrap_or(0))
}

/// The whole school's count of incidents (one per pupil) kept by behaviour.
fn grouped_by_behaviour(conn: &mut DbConnection, school_id: i64) -> i64 {
    let total: Option<i64> = schema::school_day_groups::table
        .filter(schema::school_day_groups::school_id.eq(school_id))
        .filter(schema::school_day_groups::dimension.eq("behaviour"))
        .select(diesel::dsl::sum(schema::school_day_groups::incidents))
        .get_result(conn)
        .expect("groupings");
    total.unwrap_or(0)
}

async fn a_batch_leaves_the_record_that_one_by_one_logging_leaves(engine: Engine) {
    let app = spawn_app(engine).await;
    // The same incidents, by pupil position and minutes ago: the first pupil five times (once
    // a fortnight back, which reads further back and so waits for a second round), once with
    // the third.
    let shape: [(&[usize], i64); 7] = [
        (&[0], 50),
        (&[1], 49),
        (&[0], 48),
        (&[0, 2], 47),
        (&[0], 20_160),
        (&[0], 46),
        (&[1], 45),
    ];
    let mut records = Vec::new();
    for (code, together) in [("ONEBYONE", false), ("TOGETHER", true)] {
        let (school, teacher, pupils) = school_of(&app, code, 3);
        let member = || Caller::Member {
            school_id: school.id,
            staff_id: teacher.id,
        };
        let requests: Vec<LogRequest> = shape
            .iter()
            .map(|(positions, minutes_ago)| {
                let ids: Vec<i64> = positions.iter().map(|p| pupils[*p]).collect();
                request(member(), None, prompt(&ids, *minutes_ago))
            })
            .collect();
        let answers: Vec<Result<Logged>> = if together {
            log_batch(&app, &requests)
        } else {
            requests
                .chunks(1)
                .flat_map(|one| log_batch(&app, one))
                .collect()
        };
        assert!(answers.iter().all(Result::is_ok), "{answers:?}");
        let mut conn = app.conn();
        let pupil_records: Vec<_> = pupils.iter().map(|p| record_of(&mut conn, *p)).collect();
        records.push((pupil_records, grouped_by_behaviour(&mut conn, school.id)));
    }
    let (one_by_one, together) = (&records[0], &records[1]);
    assert_eq!(one_by_one, together);
    let (pupils, grouped) = together;
    assert_eq!(
        pupils[0].2, 5,
        "the first pupil's five incidents are counted"
    );
    assert_eq!((pupils[1].2, pupils[2].2), (2, 1));
    assert_eq!(*grouped, 8, "one per pupil of each incident");
    assert_eq!(pupils[0].0, 1, "placed at Coaching Prompt");
    let mut conn = app.conn();
    for pupil in schema::pupils::table
        .select(schema::pupils::id)
        .load::<i64>(&mut *conn)
        .expect("pupils")
    {
        let last: Option<chrono::NaiveDateTime> = schema::pupils::table
            .find(pupil)
            .select(schema::pupils::last_incident_at)
            .get_result(&mut *conn)
            .expect("the pupil");
        let latest: Option<chrono::NaiveDateTime> = schema::incident_pupils::table
            .filter(schema::incident_pupils::pupil_id.eq(pupil))
            .select(diesel::dsl::max(schema::incident_pupils::occurred_at))
            .get_result(&mut *conn)
            .expect("their incidents");
        assert_eq!(last, latest, "each pupil's last incident is kept");
    }
    assert!(
        !pupils[0].1.is_empty(),
        "the first pupil's repeated prompts make a suggestion"
    );
}

async fn a_refused_request_or_a_repeated_key_leaves_the_others_logged(engine: Engine) {
    let app = spawn_app(engine).await;
    let (school, teacher, pupils) = school_of(&app, "NORTH", 2);
    let (_, _, elsewhere) = school_of(&app, "SOUTH", 1);
    let token = accounts::new_api_token();
    let revoked = accounts::new_api_token();
    {
        let mut conn = app.conn();
        for (t, name) in [(&token, "phone"), (&revoked, "old phone")] {
            tokens::add(&mut conn, &teacher, &t.hash, name, None, Utc::now()).expect("a token");
        }
        tokens::revoke(
            &mut conn,
            school.id,
            teacher.id,
            tokens::Revoke::Named("old phone"),
            Utc::now(),
        )
        .expect("revoking");
    }
    let by_token = |t: &accounts::NewToken| Caller::Token {
        token_hash: t.hash.clone(),
    };
    let requests = vec![
        request(
            by_token(&token),
            Some("key-first-0001"),
            prompt(&[pupils[0]], 5),
        ),
        request(
            by_token(&token),
            None,
            prompt(&[pupils[1], elsewhere[0]], 4),
        ),
        request(by_token(&revoked), None, prompt(&[pupils[1]], 3)),
        request(
            by_token(&token),
            Some("key-first-0001"),
            prompt(&[pupils[0]], 5),
        ),
        request(by_token(&token), None, prompt(&[pupils[1]], 2)),
    ];

    let answers = log_batch(&app, &requests);

    let first = answers[0].as_ref().expect("the first is logged");
    assert!(
        matches!(&answers[1], Err(error) if error.field() == Some("pupil_ids")),
        "{:?}",
        answers[1]
    );
    assert!(
        matches!(answers[2], Err(Error::Unauthenticated)),
        "{:?}",
        answers[2]
    );
    let repeat = answers[3].as_ref().expect("the repeat is answered");
    assert_eq!(repeat.answer, first.answer, "the first answer, given again");
    let last = answers[4].as_ref().expect("the last is logged");
    assert_ne!(last.answer.body, first.answer.body);
    let mut conn = app.conn();
    let logged: Vec<i64> = schema::incidents::table
        .filter(schema::incidents::school_id.eq(school.id))
        .order(schema::incidents::id)
        .select(schema::incidents::id)
        .load(&mut *conn)
        .expect("incidents");
    let answered: Vec<i64> = [&first.answer.body, &last.answer.body]
        .iter()
        .map(|body| body.parse().expect("an id"))
        .collect();
    assert_eq!(
        logged, answered,
        "two incidents, nothing of the refused ones"
    );
    assert_eq!(record_of(&mut conn, pupils[0]).2, 1);
    assert_eq!(record_of(&mut conn, pupils[1]).2, 1);
    assert_eq!(record_of(&mut conn, elsewhere[0]).2, 0);
    assert_eq!(grouped_by_behaviour(&mut conn, school.id), 2);
}

/// Logging from many callers at once beside other writes that lock the same rows in the
/// opposite order (the school's counted rows, then its pupils from the highest id down): on
/// PostgreSQL, where several writers commit side by side, a batch holding such a write must
/// run alone, or the two deadlock and one fails.
async fn logging_beside_other_writes_leaves_every_write_done(engine: Engine) {
    let app = spawn_app(engine).await;
    let (school, teacher, pupils) = school_of(&app, "BUSY", 9);
    let logs = (0..240).map(|n| {
        let db = app.db.clone();
        let pupils = [pupils[n % pupils.len()], pupils[(n * 7 + 3) % pupils.len()]];
        let caller = Caller::Member {
            school_id: school.id,
            staff_id: teacher.id,
        };
        let key = format!("busy-key-{n:04}");
        async move {
            let mut ids = pupils.to_vec();
            ids.dedup();
            db.log(request(caller, Some(&key), prompt(&ids, 1))).await
        }
    });
    let others = (0..40).map(|_| {
        let (db, pupils) = (app.db.clone(), pupils.clone());
        async move {
            db.write(move |conn| {
                diesel::update(schema::school_day_groups::table)
                    .set(
                        schema::school_day_groups::incidents
                            .eq(schema::school_day_groups::incidents),
                    )
                    .execute(conn)?;
                for pupil in pupils.iter().rev() {
                    diesel::update(schema::pupils::table.find(pupil))
                        .set(schema::pupils::level.eq(schema::pupils::level))
                        .execute(conn)?;
                }
                Ok(())
            })
            .await
        }
    });
    let (logged, written) = futures::join!(
        futures::future::join_all(logs),
        futures::future::join_all(others)
    );
    let failures: Vec<_> = logged
        .iter()
        .filter_map(|answer| answer.as_ref().err())
        .collect();
    assert!(failures.is_empty(), "{failures:?}");
    assert!(written.iter().all(Result::is_ok), "{written:?}");
    let mut conn = app.conn();
    let counted: i64 = pupils.iter().map(|p| record_of(&mut conn, *p).2).sum();
    let links: i64 = schema::incident_pupils::table
        .filter(schema::incident_pupils::school_id.eq(school.id))
        .count()
        .get_result(&mut *conn)
        .expect("links");
    assert_eq!(counted, links, "every pupil's incidents counted once");
    assert_eq!(grouped_by_behaviour(&mut conn, school.id), links);
}

both_engines!(
    a_batch_leaves_the_record_that_one_by_one_logging_leaves,
    a_refused_request_or_a_repeated_key_leaves_the_others_logged,
    logging_beside_other_writes_leaves_every_write_done,
);
