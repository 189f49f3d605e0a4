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
        body["data"],
        json!({ "__typename": "Query", "apiVersion": env!("CARGO_PKG_VERSION") })
    );
    // Every answer says what the query cost against its limit (two fields: 2).
    assert_eq!(
        body["extensions"]["cost"],
        json!({ "requested": 2, "limit": 20000 })
    );
}

/// GraphiQL comes entirely from this server: every script and stylesheet the page names is a
/// bundled asset that answers 200 here, nothing is loaded from another host (government networks
/// are often closed), and the page's content security policy says so to the browser too.
#[actix_web::test]
async fn graphiql_loads_from_bundled_assets_only() {
    let app = spawn_app().await;
    let mut res = app
        .client
        .get(format!("{}/graphql", app.address))
        .send()
        .await
        .expect("page");
    assert_eq!(res.status().as_u16(), 200);
    let policy = res
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(policy.contains("script-src 'self'"), "{policy}");
    let page = res.body().await.expect("page body");
    let page = String::from_utf8_lossy(&page);
    assert!(
        !page.contains("//"),
        "no absolute or protocol-relative URL in the page:\n{page}"
    );
    let mut names = Vec::new();
    for part in page.split(['"', '\'']) {
        if let Some(name) = part.strip_prefix("/graphiql/") {
            names.push(name.to_owned());
        }
    }
    for expected in [
        "graphiql.min.js",
        "graphiql.min.css",
        "react.production.min.js",
        "start.js",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} not named: {names:?}"
        );
    }
    for name in &names {
        let (status, body) = app.get(&format!("/graphiql/{name}")).await;
        assert_eq!(status, 200, "{name}");
        assert!(
            !body.contains("unpkg.com") && !body.contains("cdn.jsdelivr"),
            "{name} loads a CDN"
        );
    }
    let (status, _) = app.get("/graphiql/../Cargo.toml").await;
    assert_eq!(status, 404);
    let (status, licence) = app.get("/graphiql/LICENSE.graphiql").await;
    assert_eq!(status, 200);
    assert!(licence.contains("MIT"), "{licence}");
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

/// Browsers on an allowed origin may call the API (CORS preflight and response headers); other
/// origins get no CORS headers and cannot open a subscription socket. In development mode the
/// localhost origins are allowed; configured origins always are.
#[actix_web::test]
async fn cors_allows_configured_and_development_origins_only() {
    let app = crate::helpers::spawn_app_with(|s| {
        s.dev = true;
        s.cors_origins = vec!["https://clerk.example.kz".into()];
    })
    .await;
    for (origin, allowed) in [
        ("https://clerk.example.kz", true),
        ("http://localhost:5173", true),
        ("https://evil.example", false),
        ("http://localhost.evil.example", false),
    ] {
        let resp = app
            .client
            .request(
                actix_web::http::Method::OPTIONS,
                format!("{}/graphql", app.address),
            )
            .insert_header(("origin", origin))
            .insert_header(("access-control-request-method", "POST"))
            .insert_header((
                "access-control-request-headers",
                "authorization, content-type",
            ))
            .send()
            .await
            .expect("answers");
        let header = resp
            .headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if allowed {
            assert_eq!(
                header.as_deref(),
                Some(origin),
                "{origin}: {}",
                resp.status()
            );
        } else {
            assert_eq!(header, None, "{origin}");
        }
    }
    let ws = app
        .client
        .ws(format!(
            "{}/graphql",
            app.address.replace("http://", "ws://")
        ))
        .protocols(["graphql-transport-ws"])
        .origin("https://evil.example")
        .connect()
        .await;
    assert!(ws.is_err(), "a socket from a foreign origin is refused");
}

/// Answers worth compressing are compressed when the client accepts it.
#[actix_web::test]
async fn responses_are_compressed_when_the_client_accepts_it() {
    let app = spawn_app().await;
    let resp = app
        .client
        .post(format!("{}/graphql", app.address))
        .insert_header(("content-type", "application/json"))
        .insert_header(("accept-encoding", "gzip"))
        .send_body(json!({ "query": "{ regulations { code nameKk nameEn steps { actionEn outputEn } } }" }).to_string())
        .await
        .expect("answers");
    assert_eq!(
        resp.headers()
            .get("content-encoding")
            .and_then(|v| v.to_str().ok()),
        Some("gzip")
    );
}

/// Every answer carries a request id: the client's when it is a sane token, a new one otherwise.
#[actix_web::test]
async fn every_answer_carries_a_request_id() {
    let app = spawn_app().await;
    let id_of = |resp: &awc::ClientResponse<_>| {
        resp.headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let resp = app
        .client
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .expect("answers");
    let fresh = id_of(&resp).expect("an id");
    assert_eq!(fresh.len(), 16, "{fresh}");
    let resp = app
        .client
        .get(format!("{}/healthz", app.address))
        .insert_header(("x-request-id", "web-7f3a-42"))
        .send()
        .await
        .expect("answers");
    assert_eq!(id_of(&resp).as_deref(), Some("web-7f3a-42"));
    let resp = app
        .client
        .get(format!("{}/healthz", app.address))
        .insert_header(("x-request-id", "no spaces; or <html>"))
        .send()
        .await
        .expect("answers");
    assert_ne!(id_of(&resp).as_deref(), Some("no spaces; or <html>"));
}

/// GraphQL over HTTP as clients expect: a GET with `?query=` runs a query (urql's default for
/// queries); a mutation over GET is refused (405, use POST); a bare GET is still GraphiQL.
#[actix_web::test]
async fn get_runs_queries_and_refuses_mutations() {
    let app = spawn_app().await;
    let url = |q: &str| {
        format!(
            "{}/graphql?query={}",
            app.address,
            q.bytes()
                .map(|b| if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                })
                .collect::<String>()
        )
    };
    let mut resp = app
        .client
        .get(url("{ apiVersion }"))
        .insert_header(("accept", "application/json"))
        .send()
        .await
        .expect("answers");
    assert_eq!(resp.status().as_u16(), 200);
    let body: serde_json::Value = resp.json().await.expect("JSON");
    assert_eq!(
        body["data"]["apiVersion"],
        env!("CARGO_PKG_VERSION"),
        "{body}"
    );
    let resp = app
        .client
        .get(url("mutation { logout(refreshToken: \"x\") }"))
        .send()
        .await
        .expect("answers");
    assert_eq!(resp.status().as_u16(), 405);
    let (status, page) = app.get("/graphql").await;
    assert_eq!(status, 200);
    assert!(page.contains("graphiql"));
}
