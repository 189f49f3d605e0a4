//! The subscription socket: `graphql-transport-ws` over `actix-ws` (WebSockets without actors;
//! `actix-web-actors` is deprecated). async-graphql runs the protocol; this task carries its
//! frames and holds the limits a hostile client cannot get around:
//!
//! - `connection_init` within [`INIT_TIMEOUT`], else closed with 4408;
//! - frames up to [`MAX_FRAME_BYTES`], a message (continuations aggregated) up to
//!   [`MAX_MESSAGE_BYTES`], else closed with 1009 — nothing is buffered past that;
//! - at most [`MAX_SUBSCRIPTIONS_PER_SOCKET`] subscriptions on a socket (another `subscribe` gets
//!   a `TOO_MANY_SUBSCRIPTIONS` error message) and [`MAX_SOCKETS_PER_ACCOUNT`] sockets per
//!   account (another is closed with 4429);
//! - a refused token closes with 4403, and so does the accepted token expiring, the account
//!   being deactivated or its role changing (re-checked every [`HEARTBEAT`]); a token that
//!   cannot be checked because the database is out closes with 1013 (try again later), so the
//!   client keeps its session;
//! - a client silent (no pong) for [`CLIENT_TIMEOUT`] is dropped.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::{AggregatedMessage, CloseCode, CloseReason, Session};
use async_graphql::http::{WebSocket, WebSocketProtocols, WsMessage};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;

use crate::auth::{authenticate, load_principal, Auth, Principal};
use crate::graphql::QyzmetSchema;
use crate::state::AppState;

/// How often the server pings, checks the token's expiry and re-reads the account.
pub const HEARTBEAT: Duration = Duration::from_secs(5);
/// A client that answers nothing for this long is dropped.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(15);
/// `connection_init` must arrive within this.
pub const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one message may take to be handed to the client's connection. A client that stops
/// reading fills its socket's buffers and then the session's queue; past this it is let go,
/// instead of holding the socket (and its heartbeat, and its account's socket slot) forever.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest frame accepted.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;
/// The largest message accepted, its continuations together.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Subscriptions open at once on one socket.
pub const MAX_SUBSCRIPTIONS_PER_SOCKET: usize = 20;
/// Sockets open at once for one account.
pub const MAX_SOCKETS_PER_ACCOUNT: usize = 5;

const REFUSED: &str = "a valid access token is required";
const EXPIRED: &str = "the access token expired";
const INACTIVE: &str = "the account is no longer active in this role";
const UNAVAILABLE: &str = "the service is unavailable for a moment; retry shortly";
/// RFC 6455: try again later.
const TRY_AGAIN_LATER: u16 = 1013;
/// graphql-transport-ws: the server refuses the connection (init) — and, here, ends it when the
/// token that opened it expires or the account changes.
const FORBIDDEN: u16 = 4403;
/// graphql-transport-ws: `connection_init` did not arrive in time.
const INIT_TIMED_OUT: u16 = 4408;
/// Too many sockets for the account.
const TOO_MANY: u16 = 4429;
/// RFC 6455: a message too big to process.
const TOO_BIG: u16 = 1009;

/// Upgrades `GET /graphql` to a subscription socket.
pub fn start(
    schema: QyzmetSchema,
    state: AppState,
    req: &HttpRequest,
    payload: web::Payload,
) -> actix_web::Result<HttpResponse> {
    let speaks = req
        .headers()
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.split(',').any(|x| x.trim() == "graphql-transport-ws"));
    if !speaks {
        return Ok(HttpResponse::BadRequest().body("use the graphql-transport-ws subprotocol"));
    }
    // A browser says where the page came from; only the allowed origins may open a socket
    // (other clients send no Origin).
    if let Some(origin) = req.headers().get(actix_web::http::header::ORIGIN) {
        let allowed = req
            .app_data::<web::Data<crate::network::Origins>>()
            .is_some_and(|o| origin.to_str().is_ok_and(|v| o.allows(v)));
        if !allowed {
            return Ok(HttpResponse::Forbidden().body("this origin may not open a socket"));
        }
    }
    let (response, session, stream) =
        actix_ws::handle_with_protocols(req, payload, &["graphql-transport-ws"])?;
    let stream = stream
        .max_frame_size(MAX_FRAME_BYTES)
        .aggregate_continuations()
        .max_continuation_size(MAX_MESSAGE_BYTES);
    let language = crate::graphql::language::of_request(req);
    // The connection's client address: what the per-address limits (document verification)
    // count a socket's requests against, as they count HTTP requests.
    let addr = crate::auth::ClientAddr(crate::network::client_addr(req));
    actix_web::rt::spawn(run(schema, state, session, stream, language, addr));
    Ok(response)
}

/// Who opened the socket, once `connection_init` was accepted.
#[derive(Default)]
struct Opened {
    principal: Option<Principal>,
    expires: Option<DateTime<Utc>>,
    /// Counted in [`SocketCounts`] (to be given back at the end).
    counted: Option<String>,
    /// Refused for too many sockets.
    too_many: bool,
}

/// Whether `send` (a message to the client) completed within [`SEND_TIMEOUT`].
async fn sent(send: impl std::future::Future<Output = Result<(), actix_ws::Closed>>) -> bool {
    matches!(
        actix_web::rt::time::timeout(SEND_TIMEOUT, send).await,
        Ok(Ok(()))
    )
}

async fn close(session: Session, code: u16, why: &str) {
    let closing = session.close(Some(CloseReason {
        code: CloseCode::from(code),
        description: Some(why.to_owned()),
    }));
    let _ = actix_web::rt::time::timeout(SEND_TIMEOUT, closing).await;
}

/// The `type` and `id` of a protocol message, without parsing the rest.
fn kind_and_id(text: &str) -> Option<(String, Option<String>)> {
    #[derive(serde::Deserialize)]
    struct Head {
        #[serde(rename = "type")]
        kind: String,
        id: Option<String>,
    }
    serde_json::from_str::<Head>(text)
        .ok()
        .map(|h| (h.kind, h.id))
}

async fn run(
    schema: QyzmetSchema,
    state: AppState,
    mut session: Session,
    mut stream: actix_ws::AggregatedMessageStream,
    language: domain::language::Language,
    addr: crate::auth::ClientAddr,
) {
    let (tx, rx) = async_channel::bounded::<Vec<u8>>(16);
    let opened = Arc::new(Mutex::new(Opened::default()));
    let init_state = (state.clone(), opened.clone());
    let protocol = WebSocket::new(schema, rx, WebSocketProtocols::GraphQLWS).on_connection_init(
        move |init: serde_json::Value| async move {
            let (state, opened) = init_state;
            // The token travels in the init payload: {"Authorization": "Bearer …"}.
            let bearer = ["Authorization", "authorization"]
                .iter()
                .find_map(|k| init.get(k).and_then(|v| v.as_str()).map(str::to_owned));
            let p = match authenticate(&state, bearer.as_deref()).await {
                Auth::Principal(p) => p,
                // The token may be good: the accounts could not be read. Try again later (1013),
                // not 4403, so that the client keeps its session.
                Auth::Unavailable => return Err(async_graphql::Error::new(UNAVAILABLE)),
                _ => return Err(async_graphql::Error::new(REFUSED)),
            };
            let token = bearer
                .as_deref()
                .and_then(|b| b.strip_prefix("Bearer "))
                .unwrap_or_default();
            let expires = state
                .tokens
                .verify(token.trim())
                .ok()
                .and_then(|c| DateTime::from_timestamp(c.exp, 0));
            let who = p.subject.claim();
            let mut o = match opened.lock() {
                Ok(o) => o,
                Err(poisoned) => poisoned.into_inner(),
            };
            if !state.sockets.enter(&who, MAX_SOCKETS_PER_ACCOUNT) {
                o.too_many = true;
                return Err(async_graphql::Error::new(
                    "too many open sockets for this account",
                ));
            }
            o.counted = Some(who);
            o.expires = expires;
            o.principal = Some(p.clone());
            let mut data = async_graphql::Data::default();
            data.insert(Auth::Principal(p));
            // The upgrade request's Accept-Language, or one named in the init payload.
            let language = init
                .get("Accept-Language")
                .and_then(|v| v.as_str())
                .map(domain::language::Language::from_accept_language)
                .unwrap_or(language);
            data.insert(crate::graphql::language::RequestLanguage(language));
            data.insert(crate::graphql::loaders::Loaders::new(&state.db));
            data.insert(addr.clone());
            Ok(data)
        },
    );
    let mut protocol = std::pin::pin!(protocol);
    let mut last_seen = Instant::now();
    let mut heartbeat = actix_web::rt::time::interval(HEARTBEAT);
    let mut subscriptions: HashSet<String> = HashSet::new();
    let mut pending: Option<Vec<u8>> = None;
    let init_deadline = actix_web::rt::time::sleep(INIT_TIMEOUT);
    let mut init_deadline = std::pin::pin!(init_deadline);
    let outcome: Option<(u16, &str)> = loop {
        let waiting_for_init = opened.lock().map(|o| o.principal.is_none()).unwrap_or(true);
        // A message the protocol has no room for yet waits here, and the client is not read
        // meanwhile (back-pressure) — while the protocol's output keeps being polled, which is
        // what makes room.
        let blocked = pending.clone();
        tokio::select! {
            _ = &mut init_deadline, if waiting_for_init => {
                break Some((INIT_TIMED_OUT, "connection initialisation timeout"));
            }
            sent = async {
                match blocked {
                    Some(b) => tx.send(b).await.is_ok(),
                    None => std::future::pending().await,
                }
            }, if pending.is_some() => {
                if !sent {
                    break None;
                }
                pending = None;
            }
            incoming = stream.next(), if pending.is_none() => {
                let bytes = match incoming {
                    Some(Ok(AggregatedMessage::Text(t))) => t.as_bytes().to_vec(),
                    Some(Ok(AggregatedMessage::Binary(b))) => b.to_vec(),
                    Some(Ok(AggregatedMessage::Ping(p))) => {
                        last_seen = Instant::now();
                        if !sent(session.pong(&p)).await {
                            break None;
                        }
                        continue;
                    }
                    Some(Ok(AggregatedMessage::Pong(_))) => {
                        last_seen = Instant::now();
                        continue;
                    }
                    Some(Ok(AggregatedMessage::Close(_))) | None => break None,
                    // Over the frame or message size, or not WebSocket at all.
                    Some(Err(_)) => break Some((TOO_BIG, "message too big or malformed")),
                };
                last_seen = Instant::now();
                match kind_and_id(&String::from_utf8_lossy(&bytes)) {
                    Some((kind, Some(id))) if kind == "subscribe" => {
                        if !subscriptions.contains(&id)
                            && subscriptions.len() >= MAX_SUBSCRIPTIONS_PER_SOCKET
                        {
                            let refusal = serde_json::json!({
                                "id": id, "type": "error",
                                "payload": [{
                                    "message": format!("at most {MAX_SUBSCRIPTIONS_PER_SOCKET} subscriptions per socket"),
                                    "extensions": { "code": "TOO_MANY_SUBSCRIPTIONS" }
                                }]
                            });
                            if !sent(session.text(refusal.to_string())).await {
                                break None;
                            }
                            continue;
                        }
                        subscriptions.insert(id);
                    }
                    Some((kind, Some(id))) if kind == "complete" => {
                        subscriptions.remove(&id);
                    }
                    _ => {}
                }
                match tx.try_send(bytes) {
                    Ok(()) => {}
                    Err(async_channel::TrySendError::Full(b)) => pending = Some(b),
                    Err(async_channel::TrySendError::Closed(_)) => break None,
                }
            }
            outgoing = protocol.next() => match outgoing {
                Some(WsMessage::Text(text)) => {
                    if let Some((kind, Some(id))) = kind_and_id(&text) {
                        if kind == "complete" || kind == "error" {
                            subscriptions.remove(&id);
                        }
                    }
                    if !sent(session.text(text)).await {
                        break None;
                    }
                }
                Some(WsMessage::Close(code, reason)) => {
                    // async-graphql closes a refused init with 1002; the protocol says 4403.
                    let too_many = opened.lock().map(|o| o.too_many).unwrap_or(false);
                    let code = if too_many {
                        TOO_MANY
                    } else if reason == REFUSED {
                        FORBIDDEN
                    } else if reason == UNAVAILABLE {
                        TRY_AGAIN_LATER
                    } else {
                        code
                    };
                    release(&state, &opened);
                    let closing = session.close(Some(CloseReason {
                        code: CloseCode::from(code),
                        description: Some(reason),
                    }));
                    let _ = actix_web::rt::time::timeout(SEND_TIMEOUT, closing).await;
                    return;
                }
                None => break None,
            },
            _ = heartbeat.tick() => {
                if last_seen.elapsed() > CLIENT_TIMEOUT {
                    break None;
                }
                let (principal, expires) = match opened.lock() {
                    Ok(o) => (o.principal.clone(), o.expires),
                    Err(p) => {
                        let o = p.into_inner();
                        (o.principal.clone(), o.expires)
                    }
                };
                let Some(principal) = principal else {
                    if !sent(session.ping(b"")).await {
                        break None;
                    }
                    continue;
                };
                if expires.is_some_and(|e| e <= Utc::now()) {
                    break Some((FORBIDDEN, EXPIRED));
                }
                // The account as it is now: deactivated or given another role, the socket ends.
                match load_principal(&state, principal.subject.clone()).await {
                    Ok(Some(now)) if now.role == principal.role
                        && now.organisation_id == principal.organisation_id => {}
                    Ok(_) => break Some((FORBIDDEN, INACTIVE)),
                    // The database is out: keep the socket, check again at the next beat.
                    Err(_) => {}
                }
                if !sent(session.ping(b"")).await {
                    break None;
                }
            }
        }
    };
    release(&state, &opened);
    match outcome {
        Some((code, why)) => close(session, code, why).await,
        None => {
            let _ = actix_web::rt::time::timeout(SEND_TIMEOUT, session.close(None)).await;
        }
    }
}

fn release(state: &AppState, opened: &Arc<Mutex<Opened>>) {
    let counted = match opened.lock() {
        Ok(mut o) => o.counted.take(),
        Err(p) => p.into_inner().counted.take(),
    };
    if let Some(who) = counted {
        state.sockets.leave(&who);
    }
}
