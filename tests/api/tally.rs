//! A mailbox's counts — total, overdue, due today, per stage — come from its actor's live tally.
//! Here they are checked against the case rows themselves, counted one by one: after every move
//! (read right after the move's answer), as time passes, under a stage filter, on a second node,
//! and on a server started afresh on the same database.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use domain::identity::Role;
use entity::{organisation, service_case};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde_json::{json, Value};

use crate::cases::{application, open, People, CASE_FIELDS};
use crate::helpers::{spawn_app_with, test_backend, TestApp};
use crate::subscriptions::{connect, next, subscribe};

const ORG: &str = "aktau-school-1";
const REG: &str = "mangystau-secondary-education-duplicates";
const IIN: &str = "850305400120";

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("rfc3339")
        .with_timezone(&Utc)
}

/// What an inbox shows: total, overdue, due today, and cases per stage.
type Shown = (i64, i64, i64, BTreeMap<String, i64>);

/// The counts of a mailbox counted from the rows, at `now`, over `stages` (empty: all).
async fn truth(
    db: &DatabaseConnection,
    mailbox: &str,
    now: DateTime<Utc>,
    stages: &[&str],
) -> Shown {
    let org = organisation::Entity::find()
        .filter(organisation::Column::Code.eq(ORG))
        .one(db)
        .await
        .expect("reads")
        .expect("the organisation");
    let rows = service_case::Entity::find()
        .filter(service_case::Column::CurrentOrgId.eq(org.id))
        .filter(service_case::Column::CurrentMailbox.eq(mailbox))
        .all(db)
        .await
        .expect("reads");
    // "Today" is the domain's rule (to the end of the organisation's local day, Asia/Aqtau).
    let (from, to) = domain::inbox::due_today(now, chrono_tz::Asia::Aqtau);
    let mut per_stage = BTreeMap::new();
    for r in &rows {
        *per_stage.entry(r.stage.clone()).or_insert(0) += 1;
    }
    let chosen: Vec<_> = rows
        .iter()
        .filter(|r| stages.is_empty() || stages.contains(&r.stage.as_str()))
        .collect();
    let overdue = chosen
        .iter()
        .filter(|r| r.step_due_at.is_some_and(|d| d < now))
        .count();
    let today = chosen
        .iter()
        .filter(|r| r.step_due_at.is_some_and(|d| d >= from && d < to))
        .count();
    (chosen.len() as i64, overdue as i64, today as i64, per_stage)
}

/// The counts an inbox shows.
async fn shown(app: &TestApp, token: &str, mailbox: &str, stages: &[&str]) -> Shown {
    let q = format!(
        "query($s: [Stage!]) {{ inbox(mailbox: {mailbox}, filter: {{ stages: $s }}, first: 1) {{ totalCount overdueCount dueTodayCount stageCounts {{ stage count }} }} }}"
    );
    let (_, b) = app.graphql_as(token, &q, json!({ "s": stages })).await;
    let i = &b["data"]["inbox"];
    assert!(i.is_object(), "{b}");
    let per_stage = i["stageCounts"]
        .as_array()
        .expect("stage counts")
        .iter()
        .map(|s| {
            (
                s["stage"].as_str().expect("stage").to_owned(),
                s["count"].as_i64().expect("count"),
            )
        })
        .collect();
    (
        i["totalCount"].as_i64().expect("total"),
        i["overdueCount"].as_i64().expect("overdue"),
        i["dueTodayCount"].as_i64().expect("due today"),
        per_stage,
    )
}

struct Staff {
    clerk: String,
    head: String,
    executor: String,
}

impl Staff {
    fn of(&self, mailbox: &str) -> &str {
        match mailbox {
            "HEAD" => &self.head,
            "EXECUTOR" => &self.executor,
            _ => &self.clerk,
        }
    }
}

/// Every mailbox's counts on `app` equal the rows', whole and per stage filter.
async fn all_exact(app: &TestApp, staff: &Staff, now: DateTime<Utc>, when: &str) {
    for mailbox in ["HEAD", "EXECUTOR", "OFFICE"] {
        for stages in [&[][..], &["SIGN"][..], &["RESOLUTION", "PREPARE"][..]] {
            let want = truth(&app.db, mailbox, now, stages).await;
            let got = shown(app, staff.of(mailbox), mailbox, stages).await;
            assert_eq!(got, want, "{mailbox} {stages:?} {when}");
        }
    }
}

/// Whether every mailbox's counts on `app` equal the rows' now.
async fn exact(app: &TestApp, staff: &Staff, now: DateTime<Utc>) -> bool {
    for mailbox in ["HEAD", "EXECUTOR", "OFFICE"] {
        if shown(app, staff.of(mailbox), mailbox, &[]).await
            != truth(&app.db, mailbox, now, &[]).await
        {
            return false;
        }
    }
    true
}

async fn mv(app: &TestApp, token: &str, m: &str, case: &Value) -> Value {
    let q = format!("mutation($c: ID!, $v: Int!) {{ r: {m} {{ {CASE_FIELDS} }} }}");
    let (_, b) = app
        .graphql_as(token, &q, json!({ "c": case["id"], "v": case["version"] }))
        .await;
    assert!(b["errors"].is_null(), "{m}: {b}");
    b["data"]["r"].clone()
}

#[actix_web::test]
async fn mailbox_counts_are_exact_after_every_move_as_time_passes_and_after_a_restart() {
    let start = at("2025-06-02T10:00:00+05:00");
    let app = spawn_app_with(|s| s.fixed_clock = Some(start)).await;
    let mut people = People::new(&app);
    let staff = Staff {
        clerk: people.staff(ORG, Role::OfficeClerk).await,
        head: people.staff(ORG, Role::Head).await,
        executor: people.staff(ORG, Role::Executor).await,
    };
    // Read once before anything happens: the actors start (and read their empty tallies) now,
    // so every later count is the tally kept from moves, not a fresh read.
    all_exact(&app, &staff, start, "before any case").await;
    let mut cases = Vec::new();
    for i in 0..6 {
        let now = start + chrono::Duration::minutes(i);
        app.clock.set(now);
        let c = open(
            &app,
            &staff.clerk,
            "registerApplication",
            application(REG, None, IIN, json!({})),
        )
        .await;
        cases.push(c["data"]["r"].clone());
        all_exact(&app, &staff, now, &format!("after registration {i}")).await;
    }
    let assign = format!("assignExecutor(caseId: $c, version: $v, executor: \"{ORG}-executor\")");
    let mut now = start + chrono::Duration::minutes(10);
    app.clock.set(now);
    for (i, c) in cases.iter_mut().enumerate().take(4) {
        *c = mv(&app, &staff.head, &assign, c).await;
        all_exact(&app, &staff, now, &format!("after assignment {i}")).await;
    }
    for (i, c) in cases.iter_mut().enumerate().take(3) {
        *c = mv(
            &app,
            &staff.executor,
            "prepareResult(caseId: $c, version: $v)",
            c,
        )
        .await;
        all_exact(&app, &staff, now, &format!("after preparation {i}")).await;
    }
    cases[0] = mv(
        &app,
        &staff.head,
        "signResult(caseId: $c, version: $v)",
        &cases[0],
    )
    .await;
    all_exact(&app, &staff, now, "after signing").await;
    cases[1] = mv(
        &app,
        &staff.head,
        "returnToExecutor(caseId: $c, version: $v, comment: \"again\")",
        &cases[1],
    )
    .await;
    all_exact(&app, &staff, now, "after a returned draft").await;
    cases[0] = mv(
        &app,
        &staff.clerk,
        "issueResult(caseId: $c, version: $v)",
        &cases[0],
    )
    .await;
    all_exact(&app, &staff, now, "after issue (closed)").await;

    // Time passes over due times: overdue and due-today counts move with the clock, both ways.
    for t in [
        "2025-06-02T23:00:00+05:00",
        "2025-06-03T17:30:00+05:00",
        "2025-06-05T09:00:00+05:00",
        "2025-06-20T09:00:00+05:00",
        "2025-06-23T09:00:00+05:00",
        "2025-06-03T09:00:00+05:00",
    ] {
        now = at(t);
        app.clock.set(now);
        all_exact(&app, &staff, now, t).await;
    }
    let (_, overdue_later, _, _) =
        truth(&app.db, "HEAD", at("2025-06-20T09:00:00+05:00"), &[]).await;
    let (_, _, due_on_the_3rd, _) =
        truth(&app.db, "HEAD", at("2025-06-03T09:00:00+05:00"), &[]).await;
    assert!(
        overdue_later > 0 && due_on_the_3rd > 0,
        "the walk over time met overdue and due-today cases"
    );

    // A server started afresh on the same database reads the same counts.
    let restarted = app.spawn_node(|s| s.fixed_clock = Some(now)).await;
    all_exact(&restarted, &staff, now, "after a restart").await;
}

/// Two nodes on one PostgreSQL: a move on either reaches the other's mailbox actors, whose
/// subscription events and inbox counts then equal the rows'.
#[actix_web::test]
async fn two_nodes_agree_on_counts_after_moves_on_either() {
    if test_backend() != api::configuration::Backend::Postgres {
        return; // Several nodes share a PostgreSQL database; this runs in the PostgreSQL pass.
    }
    let now = at("2025-06-02T10:00:00+05:00");
    let a = spawn_app_with(|s| {
        s.fixed_clock = Some(now);
        s.background = true; // the listener for other nodes' changes
    })
    .await;
    let b = a
        .spawn_node(|s| {
            s.fixed_clock = Some(now);
            s.background = true;
        })
        .await;
    let mut people = People::new(&a);
    let staff = Staff {
        clerk: people.staff(ORG, Role::OfficeClerk).await,
        head: people.staff(ORG, Role::Head).await,
        executor: people.staff(ORG, Role::Executor).await,
    };
    // B's HEAD actor starts now, with nothing in it; from here on it only hears of changes.
    all_exact(&b, &staff, now, "before any case").await;
    let mut socket = connect(&b, &staff.head).await.expect("accepted");
    subscribe(
        &mut socket,
        "1",
        "subscription { mailboxChanged(mailbox: HEAD) { change total overdue dueToday case { number } } }",
        json!({}),
    )
    .await;
    let mut cases = Vec::new();
    for i in 0..4 {
        let c = open(
            &a,
            &staff.clerk,
            "registerApplication",
            application(REG, None, IIN, json!({})),
        )
        .await;
        cases.push(c["data"]["r"].clone());
        let heard = next(&mut socket).await.expect("an event on B");
        let e = &heard["payload"]["data"]["mailboxChanged"];
        assert_eq!(e["change"], "ENTERED", "{heard}");
        let (total, overdue, today, _) = truth(&a.db, "HEAD", now, &[]).await;
        assert_eq!(
            (
                e["total"].as_i64(),
                e["overdue"].as_i64(),
                e["dueToday"].as_i64()
            ),
            (Some(total), Some(overdue), Some(today)),
            "B's event after registration {i} on A: {heard}"
        );
        all_exact(
            &b,
            &staff,
            now,
            &format!("on B after registration {i} on A"),
        )
        .await;
    }
    // Moves on B, then on A, alternately: both nodes count the same.
    let assign = format!("assignExecutor(caseId: $c, version: $v, executor: \"{ORG}-executor\")");
    for (i, c) in cases.iter_mut().enumerate() {
        let (mover, other) = if i % 2 == 0 { (&b, &a) } else { (&a, &b) };
        *c = mv(mover, &staff.head, &assign, c).await;
        let heard = next(&mut socket).await.expect("an event on B");
        assert_eq!(
            heard["payload"]["data"]["mailboxChanged"]["change"], "LEFT",
            "{heard}"
        );
        all_exact(
            mover,
            &staff,
            now,
            &format!("on the mover after assignment {i}"),
        )
        .await;
        // The other node hears of it as PostgreSQL delivers the notification: soon, not at once.
        let mut tries = 0;
        while !exact(other, &staff, now).await && tries < 50 {
            tries += 1;
            actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        all_exact(
            other,
            &staff,
            now,
            &format!("on the other node after assignment {i}"),
        )
        .await;
    }
}
