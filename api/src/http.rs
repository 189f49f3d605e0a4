//! The HTTP surface: `/graphql` (POST executes, GET serves GraphiQL), `/healthz`, `/readyz`.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use async_graphql::http::GraphiQLSource;
use futures_util::StreamExt;
use serde_json::json;

use crate::auth::{authenticate, Auth, ClientAddr};
use crate::configuration::Limits;
use crate::error::code_request_errors;
use crate::graphql::QyzmetSchema;
use crate::state::AppState;
use crate::store;

/// Registers every route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/graphql", web::post().to(graphql))
        .route("/graphql", web::get().to(graphiql))
        .route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz));
}

fn error_body(code: &str, message: &str) -> serde_json::Value {
    json!({ "errors": [{ "message": message, "extensions": { "code": code } }] })
}

async fn graphql(
    schema: web::Data<QyzmetSchema>,
    limits: web::Data<Limits>,
    req: HttpRequest,
    mut payload: web::Payload,
) -> HttpResponse {
    let max = limits.max_body_bytes;
    let too_large = || {
        HttpResponse::PayloadTooLarge().json(error_body(
            "PAYLOAD_TOO_LARGE",
            &format!("the request body exceeds the limit of {max} bytes"),
        ))
    };
    // Refuse on the declared length before reading anything; then count what actually arrives.
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > max) {
        return too_large();
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let Ok(chunk) = chunk else {
            return HttpResponse::BadRequest().json(error_body(
                "BAD_REQUEST",
                "the request body could not be read",
            ));
        };
        if body.len() + chunk.len() > max {
            return too_large();
        }
        body.extend_from_slice(&chunk);
    }
    let request: async_graphql::Request = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return HttpResponse::BadRequest().json(error_body(
                "BAD_REQUEST",
                &format!(
                    "expected a JSON object {{\"query\": …, \"variables\": …}}: {}",
                    e
                ),
            ))
        }
    };
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let auth = match &state {
        Some(state) => authenticate(state, authorization).await,
        None => Auth::Anonymous,
    };
    let addr = req
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    let request = request.data(auth).data(ClientAddr(addr));
    let mut response = schema.execute(request).await;
    code_request_errors(&mut response);
    HttpResponse::Ok().json(response)
}

async fn graphiql() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(
            GraphiQLSource::build()
                .endpoint("/graphql")
                .title("qyzmet")
                .finish(),
        )
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    if store::ping(&state.db).await {
        HttpResponse::Ok().json(json!({ "status": "ready" }))
    } else {
        HttpResponse::ServiceUnavailable().json(json!({ "status": "database unavailable" }))
    }
}
