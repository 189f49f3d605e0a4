use serde_json::json;

use crate::helpers::{error_code, spawn_app, spawn_app_with};

#[actix_web::test]
async fn an_oversized_body_is_refused_with_413_and_a_code() {
    let app = spawn_app_with(|s| s.limits.max_body_bytes = 1024).await;
    let padding = "x".repeat(2048);
    let (status, body) = app
        .graphql(&format!("{{ __typename }} # {padding}"), json!({}))
        .await;
    assert_eq!(status, 413);
    assert_eq!(error_code(&body), "PAYLOAD_TOO_LARGE");
}

#[actix_web::test]
async fn a_too_deep_query_is_refused_with_query_too_deep() {
    let app = spawn_app_with(|s| s.limits.max_query_depth = 3).await;
    let (status, body) = app
        .graphql(
            "{ __schema { types { fields { type { name } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(error_code(&body), "QUERY_TOO_DEEP");
    assert!(body["data"].is_null());
}

#[actix_web::test]
async fn a_too_complex_query_is_refused_with_query_too_complex() {
    let app = spawn_app_with(|s| s.limits.max_query_complexity = 5).await;
    let aliases: String = (0..10).map(|i| format!("a{i}: apiVersion ")).collect();
    let (_, body) = app.graphql(&format!("{{ {aliases} }}"), json!({})).await;
    assert_eq!(error_code(&body), "QUERY_TOO_COMPLEX");
}

#[actix_web::test]
async fn a_syntax_error_is_graphql_parse_failed() {
    let app = spawn_app().await;
    let (_, body) = app.graphql("{ apiVersion(", json!({})).await;
    assert_eq!(error_code(&body), "GRAPHQL_PARSE_FAILED");
}

#[actix_web::test]
async fn an_unknown_field_is_graphql_validation_failed() {
    let app = spawn_app().await;
    let (_, body) = app.graphql("{ noSuchField }", json!({})).await;
    assert_eq!(error_code(&body), "GRAPHQL_VALIDATION_FAILED");
}

#[actix_web::test]
async fn a_body_that_is_not_a_graphql_request_is_bad_request() {
    let app = spawn_app().await;
    let (status, body) = app.post_raw(b"[1, 2".to_vec()).await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&body), "BAD_REQUEST");
}
