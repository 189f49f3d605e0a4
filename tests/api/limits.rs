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
            "{ inbox(mailbox: OFFICE) { nodes { timeline { seq } } } }",
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

/// A document of doubling fragment spreads (each fragment spreads the previous one twice) is
/// refused before it is validated: its cost is counted with each fragment once.
#[actix_web::test]
async fn doubling_fragments_are_refused_as_too_complex_before_validation() {
    let app = spawn_app().await;
    let mut q = String::from("query { ...F40 }\nfragment F0 on Query { apiVersion }\n");
    for i in 1..=40 {
        q.push_str(&format!(
            "fragment F{i} on Query {{ ...F{p} ...F{p} }}\n",
            p = i - 1
        ));
    }
    let (_, body) = app.graphql(&q, json!({})).await;
    assert_eq!(error_code(&body), "QUERY_TOO_COMPLEX", "{body}");
    assert!(body["data"].is_null());
    // The server is not busy with it: health answers.
    let (status, _) = app.get("/healthz").await;
    assert_eq!(status, 200);
}

/// Page sizes multiply through nesting: many aliases of a large page, each with nested lists,
/// are refused at once, before any resolver runs.
#[actix_web::test]
async fn aliased_large_pages_are_refused_by_their_cost() {
    let app = spawn_app().await;
    let aliases: String = (0..95)
        .map(|i| {
            format!(
                "a{i}: inbox(mailbox: OFFICE, first: 200) {{ nodes {{ number timeline {{ seq stage }} events {{ seq hash }} }} }} "
            )
        })
        .collect();
    let (_, body) = app.graphql(&format!("{{ {aliases} }}"), json!({})).await;
    assert_eq!(error_code(&body), "QUERY_TOO_COMPLEX", "{body}");
    assert!(body["errors"][0]["message"]
        .as_str()
        .is_some_and(|m| m.contains("costs")));
    // The refusal carries the figures, for a client to log or show.
    let ext = &body["errors"][0]["extensions"];
    assert_eq!(ext["limit"], json!(20000), "{body}");
    assert!(ext["cost"].as_u64().is_some_and(|c| c > 20000), "{body}");
}

/// NUL and other control characters are refused wherever they appear — in variables or in the
/// query's own literals — with BAD_USER_INPUT, and nothing is created.
#[actix_web::test]
async fn control_characters_and_overlong_text_are_refused_and_change_nothing() {
    use sea_orm::{EntityTrait, PaginatorTrait};
    let app = spawn_app().await;
    let mut people = crate::cases::People::new(&app);
    let clerk = people
        .staff("aktau-school-1", domain::identity::Role::OfficeClerk)
        .await;
    let register = "mutation($i: ApplicationInput!) { registerApplication(input: $i) { id } }";
    let input = |name: &str, key: &str| {
        json!({ "i": {
            "regulation": "mangystau-secondary-education-duplicates",
            "applicant": { "iin": "850305400120", "fullName": name },
            "documents": [{ "name": "application" }],
            "idempotencyKey": key,
        } })
    };
    for (what, vars) in [
        ("NUL in a name", input("Айгүл\u{0}", "k1")),
        ("NUL in an idempotency key", input("Айгүл", "k\u{0}2")),
        ("a bell in a name", input("Айгүл\u{7}", "k3")),
        ("a 240 KB name", input(&"Ә".repeat(120 * 1024), "k4")),
        ("a 201-character name", input(&"a".repeat(201), "k5")),
        ("a 201-character key", input("Айгүл", &"k".repeat(201))),
    ] {
        let (status, body) = app.graphql_as(&clerk, register, vars).await;
        let code = body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or("");
        assert!(
            code == "BAD_USER_INPUT" || status == 413,
            "{what}: {status} {body}"
        );
    }
    let (_, body) = app
        .graphql_as(
            &clerk,
            "{ caseByNumber(number: \"KZ\\u0000\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    let cases = entity::service_case::Entity::find()
        .count(&app.db)
        .await
        .expect("count");
    assert_eq!(cases, 0, "nothing was registered");
    // Ordinary text with line breaks and tabs is fine.
    let (_, ok) = app
        .graphql_as(&clerk, register, input("Айгүл\tСерікқызы", "k6"))
        .await;
    assert!(ok["errors"].is_null(), "{ok}");
}

/// A client that sends its headers and then stalls its body is answered 408 and let go when the
/// read timeout passes, instead of holding a connection and a worker for ever.
#[actix_web::test]
async fn a_stalled_request_body_is_answered_408_after_the_read_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app =
        spawn_app_with(|s| s.limits.body_read_timeout = std::time::Duration::from_secs(1)).await;
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
        .await
        .expect("connects");
    stream
        .write_all(
            b"POST /graphql HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{\"query\":",
        )
        .await
        .expect("sends the start");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut answer),
    )
    .await;
    assert!(read.is_ok(), "the server let the connection go");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("REQUEST_TIMEOUT"), "{text}");
}

/// The standard introspection query (GraphiQL's, codegen's) needs depth 15: it is allowed at the
/// default settings within its own bound, while ordinary queries keep the depth limit; and it can
/// be switched off.
const INTROSPECTION: &str = "query IntrospectionQuery { __schema { queryType { name } mutationType { name }
  subscriptionType { name } types { ...FullType } directives { name description locations args { ...InputValue } } } }
fragment FullType on __Type { kind name description fields(includeDeprecated: true) { name description
  args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields { ...InputValue } interfaces { ...TypeRef } enumValues(includeDeprecated: true) { name description
  isDeprecated deprecationReason } possibleTypes { ...TypeRef } }
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name
  ofType { kind name ofType { kind name ofType { kind name } } } } } } } }";

#[actix_web::test]
async fn the_standard_introspection_query_works_at_the_default_limits() {
    let app = spawn_app().await;
    let (status, body) = app.graphql(INTROSPECTION, json!({})).await;
    assert_eq!(status, 200);
    assert!(body["errors"].is_null(), "{body}");
    assert!(body["data"]["__schema"]["types"]
        .as_array()
        .is_some_and(|t| t.len() > 50));
    // Ordinary queries are still held to the depth limit.
    let deep = spawn_app_with(|s| s.limits.max_query_depth = 2).await;
    let (_, body) = deep.graphql(INTROSPECTION, json!({})).await;
    assert!(
        body["errors"].is_null(),
        "introspection has its own bound: {body}"
    );
    let (_, body) = deep
        .graphql("{ regulations { steps { order } } }", json!({}))
        .await;
    assert_eq!(error_code(&body), "QUERY_TOO_DEEP");
    // Switched off by policy.
    let closed = spawn_app_with(|s| s.limits.introspection = false).await;
    let (_, body) = closed.graphql(INTROSPECTION, json!({})).await;
    assert!(
        body["data"].is_null() || body["data"]["__schema"].is_null(),
        "{body}"
    );
}
