//! The deadline watchdog and the notification outbox, across a restart.

use std::sync::{Arc, Mutex};

use actix_web::{web, App, HttpResponse, HttpServer};
use domain::identity::Role;
use serde_json::{json, Value};

use crate::cases::{advance, application, open, People};
use crate::helpers::{spawn_app_with, TestApp, TEST_JWT_SECRET};

fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(s)
        .expect("rfc3339")
        .with_timezone(&chrono::Utc)
}

/// A second view of the server's database, as a restarted process would have.
async fn another_process(app: &TestApp) -> api::state::AppState {
    let keys = api::auth::token::TokenKeys::new(
        TEST_JWT_SECRET.as_bytes(),
        std::time::Duration::from_secs(900),
        std::time::Duration::from_secs(3600),
    );
    api::startup::prepare_state(app.db.clone(), keys, app.clock.clone())
        .await
        .expect("state")
}

async fn events(app: &TestApp, token: &str, id: &Value) -> Vec<String> {
    let (_, b) = app
        .graphql_as(
            token,
            "query($c: ID!) { case(id: $c) { chainValid events { kind } } }",
            json!({ "c": id }),
        )
        .await;
    assert_eq!(b["data"]["case"]["chainValid"], true, "{b}");
    b["data"]["case"]["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[actix_web::test]
async fn the_watchdog_announces_each_step_at_risk_and_overdue_exactly_once_across_a_restart() {
    // Monday 2 June 2025 10:00: the head's step (1 working day) is due Tue 18:30 after 900 working
    // minutes; 80% (720 minutes) is reached on Tuesday at 15:30.
    let app = spawn_app_with(|s| s.fixed_clock = Some(at("2025-06-02T10:00:00+05:00"))).await;
    let mut people = People::new(&app);
    let clerk = people.staff("aktau-school-1", Role::OfficeClerk).await;
    let input = application(
        "mangystau-secondary-education-duplicates",
        None,
        "850305400120",
        json!({}),
    );
    let case = open(&app, &clerk, "registerApplication", input).await["data"]["r"].clone();
    let first = another_process(&app).await;
    let next = api::background::next_moment(&first).await.expect("query");
    assert_eq!(
        next,
        Some(at("2025-06-03T15:30:00+05:00")),
        "it sleeps until the first 80% moment"
    );

    app.clock.set(at("2025-06-03T16:00:00+05:00"));
    api::background::announce_due(&first).await.expect("pass");
    api::background::announce_due(&first)
        .await
        .expect("second pass");
    let kinds = events(&app, &clerk, &case["id"]).await;
    assert_eq!(
        kinds.iter().filter(|k| *k == "STEP_AT_RISK").count(),
        1,
        "{kinds:?}"
    );
    assert_eq!(kinds.iter().filter(|k| *k == "STEP_OVERDUE").count(), 0);

    // Past the due time, then a restart: the new process announces what fell due, once.
    app.clock.set(at("2025-06-04T10:00:00+05:00"));
    let restarted = another_process(&app).await;
    api::background::announce_due(&restarted)
        .await
        .expect("pass");
    api::background::announce_due(&first)
        .await
        .expect("the old process too");
    let kinds = events(&app, &clerk, &case["id"]).await;
    assert_eq!(
        kinds.iter().filter(|k| *k == "STEP_AT_RISK").count(),
        1,
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| *k == "STEP_OVERDUE").count(),
        1,
        "{kinds:?}"
    );
    assert_eq!(
        api::background::announce_due(&restarted)
            .await
            .expect("pass"),
        0
    );
}

#[derive(Clone, Default)]
struct Receiver {
    calls: Arc<Mutex<Vec<(String, Value, u16)>>>,
}

async fn webhook(
    state: web::Data<Receiver>,
    req: actix_web::HttpRequest,
    body: web::Json<Value>,
) -> HttpResponse {
    let key = req
        .headers()
        .get("Idempotency-Key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let mut calls = state.calls.lock().expect("lock");
    // The very first delivery fails, to exercise the retry.
    let status = if calls.is_empty() { 500 } else { 200 };
    calls.push((key, body.into_inner(), status));
    if status == 500 {
        HttpResponse::InternalServerError().finish()
    } else {
        HttpResponse::Ok().finish()
    }
}

#[actix_web::test]
async fn notifications_are_written_with_the_step_and_delivered_once_with_retries() {
    let app = spawn_app_with(|s| s.fixed_clock = Some(at("2025-06-02T10:00:00+05:00"))).await;
    let receiver = Receiver::default();
    let data = web::Data::new(receiver.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    let url = format!(
        "http://127.0.0.1:{}/hook",
        listener.local_addr().expect("addr").port()
    );
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/hook", web::post().to(webhook))
    })
    .listen(listener)
    .expect("listens")
    .workers(1)
    .run();
    actix_web::rt::spawn(server);

    let mut people = People::new(&app);
    let clerk = people.staff("aktau-school-1", Role::OfficeClerk).await;
    let input = application(
        "mangystau-secondary-education-duplicates",
        None,
        "850305400120",
        json!({}),
    );
    let mut case = open(&app, &clerk, "registerApplication", input).await["data"]["r"].clone();
    while case["status"] != "COMPLETED" {
        case = advance(&mut people, &case, "aktau-school-1", None, false).await;
    }
    let state = another_process(&app).await;
    let client = awc::Client::default();
    assert_eq!(
        api::background::deliver_due(&state, &client, &url)
            .await
            .expect("pass"),
        1,
        "one fails, one goes"
    );
    assert_eq!(
        api::background::deliver_due(&state, &client, &url)
            .await
            .expect("pass"),
        0,
        "the failed one waits its backoff"
    );
    app.clock.set(at("2025-06-02T10:00:03+05:00"));
    let restarted = another_process(&app).await;
    assert_eq!(
        api::background::deliver_due(&restarted, &client, &url)
            .await
            .expect("pass"),
        1,
        "retried after the backoff"
    );
    assert_eq!(
        api::background::deliver_due(&restarted, &client, &url)
            .await
            .expect("pass"),
        0
    );
    assert_eq!(
        api::background::deliver_due(&state, &client, &url)
            .await
            .expect("pass"),
        0,
        "nothing repeated"
    );

    let calls = receiver.calls.lock().expect("lock").clone();
    let delivered: Vec<(&str, &str)> = calls
        .iter()
        .filter(|(_, _, s)| *s == 200)
        .map(|(k, b, _)| (k.as_str(), b["kind"].as_str().unwrap_or_default()))
        .collect();
    let mut kinds: Vec<&str> = delivered.iter().map(|(_, k)| *k).collect();
    kinds.sort();
    assert_eq!(kinds, ["REGISTERED", "RESULT_READY"], "{calls:#?}");
    let keys: std::collections::BTreeSet<&str> = delivered.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        keys.len(),
        2,
        "each notification once, each with its own key"
    );
    assert_eq!(calls.len(), 3, "two deliveries and one failed attempt");
    let registered = calls
        .iter()
        .find(|(_, b, _)| b["kind"] == "REGISTERED")
        .expect("registered");
    assert_eq!(
        registered.1["payload"]["legalResultDate"],
        case["receipt"]["legalResultDate"]
    );
}
