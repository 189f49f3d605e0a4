use serde_json::json;

use crate::helpers::spawn_app;

#[actix_web::test]
async fn healthz_answers_ok() {
    let app = spawn_app().await;
    let (status, body) = app.get("/healthz").await;
    assert_eq!(status, 200);
    assert!(body.contains("\"ok\""), "{body}");
}

#[actix_web::test]
async fn readyz_answers_ready_while_the_database_is_reachable() {
    let app = spawn_app().await;
    let (status, body) = app.get("/readyz").await;
    assert_eq!(status, 200, "{body}");
}

#[actix_web::test]
async fn readyz_answers_503_once_the_database_is_gone() {
    let app = spawn_app().await;
    app.db.clone().close().await.expect("pool closes");
    let (status, _) = app.get("/readyz").await;
    assert_eq!(status, 503);
}

#[actix_web::test]
async fn typename_answers_through_post_graphql() {
    let app = spawn_app().await;
    let (status, body) = app.graphql("{ __typename apiVersion }", json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({ "data": { "__typename": "Query", "apiVersion": env!("CARGO_PKG_VERSION") } })
    );
}

#[actix_web::test]
async fn graphiql_loads_on_get() {
    let app = spawn_app().await;
    let (status, body) = app.get("/graphql").await;
    assert_eq!(status, 200);
    assert!(body.contains("graphiql"), "GraphiQL page expected");
    assert!(body.contains("/graphql"));
}

/// A database emptied or recreated under a running server answers pings, yet nothing can be
/// served: readiness says so, with the reason.
#[actix_web::test]
async fn readyz_answers_503_when_the_schema_or_the_reference_data_is_missing() {
    use sea_orm::ConnectionTrait;
    let app = spawn_app().await;
    let (status, _) = app.get("/readyz").await;
    assert_eq!(status, 200);
    app.db
        .execute_unprepared("DELETE FROM seaql_migrations")
        .await
        .expect("migrations forgotten");
    let (status, body) = app.get("/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("migrations"), "{body}");

    let other = spawn_app().await;
    other
        .db
        .execute_unprepared("DELETE FROM calendar_version")
        .await
        .expect("calendar gone");
    let (status, body) = other.get("/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("working calendar"), "{body}");
}

/// `/metrics` speaks Prometheus: requests counted by operation type and outcome code, moves by
/// action, and the scrape-time gauges (backlog, watchdog lag, pool, sockets).
#[actix_web::test]
async fn metrics_count_requests_and_read_the_gauges() {
    let app = spawn_app().await;
    let (_, _) = app.graphql("{ __typename }", json!({})).await;
    let (_, _) = app.graphql("{ nope }", json!({})).await;
    let (status, text) = app.get("/metrics").await;
    assert_eq!(status, 200, "{text}");
    for line in [
        "qyzmet_graphql_requests_total{code=\"OK\",operation=\"query\"}",
        "qyzmet_graphql_requests_total{code=\"GRAPHQL_VALIDATION_FAILED\",operation=\"query\"}",
        "qyzmet_graphql_request_seconds_bucket",
        "qyzmet_notification_backlog 0",
        "qyzmet_watchdog_lag_seconds 0",
        "qyzmet_db_pool_connections{state=\"open\"}",
        "qyzmet_subscription_sockets 0",
    ] {
        assert!(text.contains(line), "{line} missing from:\n{text}");
    }
}
