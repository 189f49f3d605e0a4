//! The public verification of a document by its number (the QR code's target): whether it
//! exists, where it stands, the hashes of the documents issued — and nothing personal.

use domain::identity::Role;
use serde_json::{json, Value};

use crate::cases::{application, open, People, CASE_FIELDS};
use crate::helpers::{spawn_app_with, TestApp};

const ORG: &str = "aktau-school-1";
const NAME: &str = "Айгерим Нұрланқызы Серікова";
const IIN: &str = "850305400120";

fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(s)
        .expect("rfc3339")
        .with_timezone(&chrono::Utc)
}

async fn mv(app: &TestApp, token: &str, m: &str, case: &Value) -> Value {
    let q = format!("mutation($c: ID!, $v: Int!) {{ r: {m} {{ {CASE_FIELDS} }} }}");
    let (_, b) = app
        .graphql_as(token, &q, json!({ "c": case["id"], "v": case["version"] }))
        .await;
    assert!(b["errors"].is_null(), "{m}: {b}");
    b["data"]["r"].clone()
}

async fn page(app: &TestApp, number: &str, accept: &str) -> (u16, String) {
    let mut resp = app
        .client
        .get(format!("{}/verify/{number}", app.address))
        .insert_header(("accept", accept))
        .send()
        .await
        .expect("answers");
    let body = resp.body().await.expect("body");
    (
        resp.status().as_u16(),
        String::from_utf8_lossy(&body).into_owned(),
    )
}

#[actix_web::test]
async fn the_verification_page_shows_documents_and_hashes_and_nothing_personal() {
    let app = spawn_app_with(|s| s.fixed_clock = Some(at("2025-06-02T10:00:00+05:00"))).await;
    let mut people = People::new(&app);
    let clerk = people.staff(ORG, Role::OfficeClerk).await;
    let head = people.staff(ORG, Role::Head).await;
    let executor = people.staff(ORG, Role::Executor).await;
    let c = open(
        &app,
        &clerk,
        "registerApplication",
        application(
            "mangystau-secondary-education-duplicates",
            None,
            IIN,
            json!({}),
        ),
    )
    .await;
    let mut case = c["data"]["r"].clone();
    let number = case["number"].as_str().expect("number").to_owned();

    // Registered: the receipt only.
    let (_, b) = app
        .graphql("query($n: String!) { verifyDocument(number: $n) { number exists progress documents { kind issuedAt sha256 } } }", json!({ "n": number.to_lowercase() }))
        .await;
    let v = &b["data"]["verifyDocument"];
    assert_eq!(v["exists"], true, "{b}");
    assert_eq!(v["progress"], "UNDER_CONSIDERATION");
    let kinds: Vec<&Value> = v["documents"]
        .as_array()
        .expect("documents")
        .iter()
        .map(|d| &d["kind"])
        .collect();
    assert_eq!(kinds, [&json!("RECEIPT")]);
    let receipt_hash = v["documents"][0]["sha256"]
        .as_str()
        .expect("hash")
        .to_owned();
    assert_eq!(receipt_hash.len(), 64);

    // Through to the issued result: the receipt's hash is unchanged, the result is added.
    case = mv(
        &app,
        &head,
        &format!("assignExecutor(caseId: $c, version: $v, executor: \"{ORG}-executor\")"),
        &case,
    )
    .await;
    case = mv(
        &app,
        &executor,
        "prepareResult(caseId: $c, version: $v)",
        &case,
    )
    .await;
    // A signed result not yet issued is not the applicant's yet: not shown.
    case = mv(&app, &head, "signResult(caseId: $c, version: $v)", &case).await;
    let (status, json_page) = page(&app, &number, "application/json").await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&json_page).expect("json");
    assert_eq!(v["documents"].as_array().map(Vec::len), Some(1), "{v}");
    mv(&app, &clerk, "issueResult(caseId: $c, version: $v)", &case).await;

    let (status, json_page) = page(&app, &number, "application/json").await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&json_page).expect("json");
    assert_eq!(v["exists"], true);
    assert_eq!(v["progress"], "ISSUED");
    assert_eq!(v["documents"][0]["kind"], "RECEIPT");
    assert_eq!(
        v["documents"][0]["sha256"],
        receipt_hash.as_str(),
        "a document's hash never changes"
    );
    assert_eq!(v["documents"][1]["kind"], "SERVICE_RESULT");
    let (status, html) = page(&app, &number, "text/html").await;
    assert_eq!(status, 200);
    assert!(
        html.contains(&number) && html.contains(&receipt_hash),
        "{html}"
    );

    // Nothing personal, in any form of the answer: no name (nor any part of it), IIN, phone,
    // staff account or organisation.
    let staff = [
        format!("{ORG}-office-clerk"),
        format!("{ORG}-head"),
        format!("{ORG}-executor"),
    ];
    for body in [&json_page, &html, &b.to_string()] {
        for word in NAME
            .split(' ')
            .chain([IIN, "701 000", ORG])
            .chain(staff.iter().map(String::as_str))
        {
            assert!(!body.contains(word), "{word:?} leaked: {body}");
        }
    }

    // An unknown number: no such document, nothing else.
    let (status, unknown) = page(&app, "KZ47-20250602-9999999", "application/json").await;
    assert_eq!(status, 200);
    let unknown: Value = serde_json::from_str(&unknown).expect("json");
    assert_eq!(
        (unknown["exists"].clone(), unknown["documents"].clone()),
        (json!(false), json!([]))
    );
    let (status, _) = page(&app, &"9".repeat(41), "application/json").await;
    assert_eq!(status, 400, "an over-long number is refused");
}

/// One client address gets `verify_per_minute` verifications, by page or by GraphQL together;
/// then `RATE_LIMITED` (429, `Retry-After`) — and other clients keep theirs.
#[actix_web::test]
async fn verification_is_rate_limited_per_client_address() {
    let app = spawn_app_with(|s| {
        s.limits.verify_per_minute = 4;
        // The tests' requests come through a "proxy" at 127.0.0.1 naming the client.
        s.proxies.trusted = vec!["127.0.0.1/32".parse().expect("cidr")];
    })
    .await;
    let get = |client: &'static str| {
        app.client
            .get(format!("{}/verify/000000000000", app.address))
            .insert_header(("accept", "application/json"))
            .insert_header(("x-forwarded-for", client))
            .send()
    };
    let graphql = |client: &'static str| {
        app.client
            .post(format!("{}/graphql", app.address))
            .insert_header(("x-forwarded-for", client))
            .send_json(
                &json!({ "query": "{ verifyDocument(number: \"000000000000\") { exists } }" }),
            )
    };
    for _ in 0..2 {
        let resp = get("203.0.113.5").await.expect("answers");
        assert_eq!(resp.status().as_u16(), 200);
        let mut resp = graphql("203.0.113.5").await.expect("answers");
        assert_eq!(resp.status().as_u16(), 200);
        let b: Value = resp.json().await.expect("json");
        assert_eq!(b["data"]["verifyDocument"]["exists"], false, "{b}");
    }
    // The allowance of four is spent, by either road.
    let mut resp = get("203.0.113.5").await.expect("answers");
    assert_eq!(resp.status().as_u16(), 429);
    let wait: u64 = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=15).contains(&wait), "{wait}");
    let b: Value = resp.json().await.expect("json");
    assert_eq!(b["errors"][0]["extensions"]["code"], "RATE_LIMITED", "{b}");
    let mut resp = graphql("203.0.113.5").await.expect("answers");
    assert_eq!(resp.status().as_u16(), 429);
    assert!(resp.headers().get("retry-after").is_some());
    let b: Value = resp.json().await.expect("json");
    assert_eq!(b["errors"][0]["extensions"]["code"], "RATE_LIMITED", "{b}");
    let again = b["errors"][0]["extensions"]["retryAfter"]
        .as_u64()
        .expect("retryAfter");
    assert!((1..=wait).contains(&again), "{b}");
    // Another client is not affected.
    let resp = get("198.51.100.9").await.expect("answers");
    assert_eq!(resp.status().as_u16(), 200);
}
