//! A database from before refusals became rules: its cases keep the version they pinned.
//!
//! The server is started on a database whose version 1 of the Mangystau duplicates regulation
//! is the file as it was before (format 1: refusals a catalogue, a working day for each courier
//! leg). A case registered then keeps that version after a server with the corrected file has
//! stored it as version 2; a case registered afterwards pins version 2.

use domain::identity::Role;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};

use crate::cases::{application, call, open, People, CASE_FIELDS};
use crate::helpers::{error_code, spawn_app_with, TestApp};

const CODE: &str = "mangystau-secondary-education-duplicates";
const FORMAT_1: &str =
    include_str!("fixtures/mangystau-secondary-education-duplicates.format1.toml");

fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(s)
        .expect("rfc3339")
        .with_timezone(&chrono::Utc)
}

/// Makes version 1 of the regulation the file as it was before this change.
async fn store_the_old_version_1(app: &TestApp) {
    use sha2::{Digest, Sha256};
    let hash: String = Sha256::digest(FORMAT_1.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let backend = app.db.get_database_backend();
    let sql = match backend {
        sea_orm::DatabaseBackend::Postgres => {
            "UPDATE regulation SET document = $1, content_hash = $2 WHERE code = $3 AND version = 1"
        }
        _ => "UPDATE regulation SET document = ?, content_hash = ? WHERE code = ? AND version = 1",
    };
    let done = app
        .db
        .execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [FORMAT_1.into(), hash.into(), CODE.into()],
        ))
        .await
        .expect("stored");
    assert_eq!(done.rows_affected(), 1);
}

async fn case_on(app: &TestApp, token: &str, id: &Value) -> Value {
    let (_, body) = app
        .graphql_as(
            token,
            &format!("query($c: ID!) {{ case(id: $c) {{ {CASE_FIELDS} }} }}"),
            json!({ "c": id }),
        )
        .await;
    body["data"]["case"].clone()
}

/// Moves a case with `mutation` as `token`; the answer's case, or the whole body on error.
async fn step(app: &TestApp, token: &str, case: &Value, mutation: &str) -> Value {
    let body = call(
        app,
        token,
        mutation,
        "",
        json!({ "c": case["id"], "v": case["version"] }),
    )
    .await;
    if body["data"]["r"].is_object() {
        body["data"]["r"].clone()
    } else {
        body
    }
}

#[actix_web::test]
async fn a_case_registered_under_the_old_version_keeps_it_after_the_corrected_file_is_loaded() {
    let when = "2025-06-02T10:00:00+05:00";
    let before = spawn_app_with(|s| s.fixed_clock = Some(at(when))).await;
    store_the_old_version_1(&before).await;
    let mut people = People::new(&before);
    let operator = people
        .staff("gov4c-mangystau", Role::CorporationOperator)
        .await;
    let input = application(CODE, Some("aktau-school-1"), "850305400120", json!({}));
    let old =
        open(&before, &operator, "acceptAtCorporation", input.clone()).await["data"]["r"].clone();
    assert_eq!(
        old["regulation"],
        json!({ "code": CODE, "version": 1 }),
        "{old}"
    );
    // Version 1 gave the courier a working day of its own: due Tue 3 June 18:00 (branch hours).
    assert_eq!(old["stepDueAt"], "2025-06-03T13:00:00+00:00", "{old}");

    // A server with the corrected file starts on the same database: it stores version 2.
    let after = before.spawn_node(|s| s.fixed_clock = Some(at(when))).await;
    let (_, versions) = after
        .graphql(
            "query($c: String!) { regulationVersions(code: $c) { version } }",
            json!({ "c": CODE }),
        )
        .await;
    assert_eq!(
        versions["data"]["regulationVersions"],
        json!([{ "version": 1 }, { "version": 2 }]),
        "{versions}"
    );
    // The old case is as it was: its version, its legal result date, its receipt.
    let seen = case_on(&after, &operator, &old["id"]).await;
    for field in ["regulation", "termDueAt", "stepDueAt", "receipt", "version"] {
        assert_eq!(seen[field], old[field], "{field}: {seen}");
    }
    // A new case pins version 2: no courier days, so an earlier legal result date.
    let new = open(&after, &operator, "acceptAtCorporation", input).await["data"]["r"].clone();
    assert_eq!(
        new["regulation"],
        json!({ "code": CODE, "version": 2 }),
        "{new}"
    );
    assert!(
        at(new["termDueAt"].as_str().unwrap_or_default())
            < at(old["termDueAt"].as_str().unwrap_or_default()),
        "old {} new {}",
        old["termDueAt"],
        new["termDueAt"]
    );
    // Both go to the executor; the old case may still be refused with reasons as its version
    // allowed, the new one may not (the act provides no reasoned refusal).
    let clerk = people.staff("aktau-school-1", Role::OfficeClerk).await;
    let head = people.staff("aktau-school-1", Role::Head).await;
    let executor = people.staff("aktau-school-1", Role::Executor).await;
    let mut at_executor = Vec::new();
    for c in [old, new] {
        let c = step(
            &after,
            &operator,
            &c,
            "deliverToProvider(caseId: $c, version: $v)",
        )
        .await;
        let c = step(
            &after,
            &clerk,
            &c,
            "completeIntake(caseId: $c, version: $v)",
        )
        .await;
        let assigned = call(
            &after,
            &head,
            "assignExecutor(caseId: $c, version: $v, executor: $e)",
            ", $e: String!",
            json!({ "c": c["id"], "v": c["version"], "e": "aktau-school-1-executor" }),
        )
        .await["data"]["r"]
            .clone();
        assert_eq!(assigned["stage"], "PREPARE", "{assigned}");
        at_executor.push(assigned);
    }
    let refuse = |c: &Value| json!({ "c": c["id"], "v": c["version"], "g": "Standard para 10: not eligible" });
    let mutation = "prepareResult(caseId: $c, version: $v, refusalGrounds: $g)";
    let old_refused = call(
        &after,
        &executor,
        mutation,
        ", $g: String",
        refuse(&at_executor[0]),
    )
    .await;
    assert_eq!(
        old_refused["data"]["r"]["stage"], "SIGN",
        "version 1 kept refusals as a catalogue: {old_refused}"
    );
    let new_refused = call(
        &after,
        &executor,
        mutation,
        ", $g: String",
        refuse(&at_executor[1]),
    )
    .await;
    assert_eq!(
        error_code(&new_refused),
        "REFUSAL_NOT_PROVIDED",
        "{new_refused}"
    );
}
