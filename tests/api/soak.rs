//! A bounded soak: several clients at once for a few seconds — cases registered and moved to
//! their end, sessions refreshed, reports and at-risk lists read, a subscriber listening — on the
//! database of this run. It must end with no `INTERNAL` answer at all, no lost or doubled step,
//! and every case's event chain valid.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use domain::identity::Role;
use futures_util::future::join_all;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{json, Value};

use crate::cases::{application, call, open, People};
use crate::helpers::{spawn_app_with, TestApp};

/// How long the soak runs: 8 s in CI; `QYZMET_SOAK_SECS` for a longer run.
fn soak() -> Duration {
    Duration::from_secs(
        std::env::var("QYZMET_SOAK_SECS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(8),
    )
}
const ORG: &str = "aktau-school-1";

type Codes = Arc<Mutex<Vec<String>>>;

fn record(codes: &Codes, body: &Value) {
    if let Some(errors) = body["errors"].as_array() {
        if let Ok(mut c) = codes.lock() {
            for e in errors {
                c.push(
                    e["extensions"]["code"]
                        .as_str()
                        .unwrap_or("NO_CODE")
                        .to_owned(),
                );
            }
        }
    }
}

async fn mover(app: &TestApp, tokens: &(String, String, String), codes: Codes) -> usize {
    let (clerk, head, executor) = tokens;
    let started = Instant::now();
    let mut finished = 0;
    while started.elapsed() < soak() {
        let input = application(
            "mangystau-secondary-education-duplicates",
            None,
            "850305400120",
            json!({}),
        );
        let body = open(app, clerk, "registerApplication", input).await;
        record(&codes, &body);
        let mut case = body["data"]["r"].clone();
        let moves: [(&String, &str, &str, Value); 4] = [
            (
                head,
                "assignExecutor(caseId: $c, version: $v, executor: $e)",
                ", $e: String!",
                json!({ "e": format!("{ORG}-executor") }),
            ),
            (
                executor,
                "prepareResult(caseId: $c, version: $v)",
                "",
                json!({}),
            ),
            (head, "signResult(caseId: $c, version: $v)", "", json!({})),
            (clerk, "issueResult(caseId: $c, version: $v)", "", json!({})),
        ];
        for (token, mutation, args, extra) in moves {
            if !case.is_object() {
                break;
            }
            let mut vars = json!({ "c": case["id"], "v": case["version"] });
            if let Value::Object(m) = extra {
                for (k, v) in m {
                    vars[k] = v;
                }
            }
            let body = call(app, token, mutation, args, vars).await;
            record(&codes, &body);
            case = body["data"]["r"].clone();
        }
        if case["status"] == "COMPLETED" {
            finished += 1;
        }
    }
    finished
}

async fn refresher(app: &TestApp, codes: Codes) -> usize {
    let (_, body) = app
        .graphql(
            "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { refreshToken } }",
            json!({ "u": format!("{ORG}-office-clerk"), "p": crate::cases::PASSWORD }),
        )
        .await;
    record(&codes, &body);
    let mut token = body["data"]["login"]["refreshToken"].clone();
    let started = Instant::now();
    let mut n = 0;
    while started.elapsed() < soak() && token.is_string() {
        let (_, body) = app
            .graphql(
                "mutation($t: String!) { refreshToken(refreshToken: $t) { refreshToken } }",
                json!({ "t": token }),
            )
            .await;
        record(&codes, &body);
        token = body["data"]["refreshToken"]["refreshToken"].clone();
        n += 1;
    }
    n
}

async fn reader(app: &TestApp, analyst: &str, clerk: &str, codes: Codes) -> usize {
    let started = Instant::now();
    let mut n = 0;
    while started.elapsed() < soak() {
        for (token, q) in [
            (analyst, "{ report(groupBy: [REGION, SERVICE]) { received completed awaitingCollection overdueNow } }"),
            (analyst, "{ atRiskCases(threshold: 0.1, first: 5) { nodes { shareUsed } } }"),
            (analyst, "{ overdueCases(first: 5) { nodes { number } } }"),
            (clerk, "{ inbox(mailbox: OFFICE, first: 20) { totalCount nodes { number availableActions { action } } } }"),
        ] {
            let (_, body) = app.graphql_as(token, q, json!({})).await;
            record(&codes, &body);
            n += 1;
        }
    }
    n
}

#[actix_web::test]
async fn a_bounded_soak_ends_without_internal_errors_lost_steps_or_broken_chains() {
    let app = spawn_app_with(|s| {
        s.fixed_clock = chrono::DateTime::parse_from_rfc3339("2025-06-02T10:00:00+05:00")
            .ok()
            .map(Into::into)
    })
    .await;
    let mut people = People::new(&app);
    let tokens = (
        people.staff(ORG, Role::OfficeClerk).await,
        people.staff(ORG, Role::Head).await,
        people.staff(ORG, Role::Executor).await,
    );
    let analyst = people.user("soak-analyst", Role::Analyst, None, None).await;
    let codes: Codes = Arc::default();

    let movers = join_all((0..3).map(|_| mover(&app, &tokens, codes.clone())));
    let (finished, refreshed, read) = futures_util::join!(
        movers,
        refresher(&app, codes.clone()),
        reader(&app, &analyst, &tokens.0, codes.clone())
    );
    let finished: usize = finished.iter().sum();
    eprintln!("soak: {finished} cases moved to their end, {refreshed} refreshes, {read} reads");
    let codes = codes.lock().map(|c| c.clone()).unwrap_or_default();
    assert!(
        !codes.iter().any(|c| c == "INTERNAL" || c == "NO_CODE"),
        "{codes:?}"
    );
    assert!(
        codes.iter().all(|c| c == "SERVICE_UNAVAILABLE"),
        "only retryable answers under load: {codes:?}"
    );
    assert!(
        finished > 0 && refreshed > 0 && read > 0,
        "{finished} {refreshed} {read}"
    );

    // Nothing lost or doubled: every case's chain verifies, its version is its number of events,
    // its steps are numbered 1..n without gaps, and exactly one is open while the case is.
    let cases = entity::service_case::Entity::find()
        .all(&app.db)
        .await
        .expect("cases");
    assert!(cases.len() >= finished);
    for c in &cases {
        let events = entity::case_event::Entity::find()
            .filter(entity::case_event::Column::CaseId.eq(c.id))
            .order_by_asc(entity::case_event::Column::Seq)
            .all(&app.db)
            .await
            .expect("events");
        assert!(api::store::cases::chain_valid(&events), "{}", c.number);
        assert_eq!(events.len() as i32, c.version, "{}", c.number);
        let steps = entity::case_step::Entity::find()
            .filter(entity::case_step::Column::CaseId.eq(c.id))
            .order_by_asc(entity::case_step::Column::Seq)
            .all(&app.db)
            .await
            .expect("steps");
        let seqs: Vec<i32> = steps.iter().map(|s| s.seq).collect();
        assert_eq!(
            seqs,
            (1..=steps.len() as i32).collect::<Vec<_>>(),
            "{}",
            c.number
        );
        let open = steps.iter().filter(|s| s.finished_at.is_none()).count();
        assert_eq!(open, usize::from(c.closed_at.is_none()), "{}", c.number);
    }
}
