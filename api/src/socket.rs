//! The subscription socket: `graphql-transport-ws` over actix, with the protocol's close codes.
//! async-graphql runs the protocol; this actor carries its frames, and closes the socket with
//! 4403 (Forbidden) when the init payload's token is refused, and again when an accepted token
//! expires while the socket is open.

use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_web::{web, HttpRequest, HttpResponse};
use actix_web_actors::ws::{
    self, CloseCode, CloseReason, Message, ProtocolError, WebsocketContext,
};
use async_graphql::http::{WebSocket, WebSocketProtocols, WsMessage};
use chrono::{DateTime, Utc};

use crate::auth::{authenticate, Auth};
use crate::graphql::QyzmetSchema;
use crate::state::AppState;

const HEARTBEAT: Duration = Duration::from_secs(5);
const CLIENT_TIMEOUT: Duration = Duration::from_secs(15);
const REFUSED: &str = "a valid access token is required";
const EXPIRED: &str = "the access token expired";
/// graphql-transport-ws: the server refuses the connection (init) — and, here, ends it when the
/// token that opened it expires.
const FORBIDDEN: u16 = 4403;

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
    let actor = SubscriptionSocket {
        schema,
        state,
        messages: None,
        last_heartbeat: Instant::now(),
        continuation: Vec::new(),
    };
    ws::WsResponseBuilder::new(actor, req, payload)
        .protocols(&["graphql-transport-ws"])
        .start()
}

struct SubscriptionSocket {
    schema: QyzmetSchema,
    state: AppState,
    messages: Option<async_channel::Sender<Vec<u8>>>,
    last_heartbeat: Instant,
    continuation: Vec<u8>,
}

/// The accepted token expires at this instant.
#[derive(Message)]
#[rtype(result = "()")]
struct ExpiresAt(DateTime<Utc>);

impl Actor for SubscriptionSocket {
    type Context = WebsocketContext<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(HEARTBEAT, |act, ctx| {
            if act.last_heartbeat.elapsed() > CLIENT_TIMEOUT {
                ctx.stop();
            }
            ctx.ping(b"");
        });
        let (tx, rx) = async_channel::unbounded();
        let (state, me) = (self.state.clone(), ctx.address());
        WebSocket::new(self.schema.clone(), rx, WebSocketProtocols::GraphQLWS)
            .on_connection_init(move |init: serde_json::Value| async move {
                // The token travels in the init payload: {"Authorization": "Bearer …"}.
                let bearer = ["Authorization", "authorization"]
                    .iter()
                    .find_map(|k| init.get(k).and_then(|v| v.as_str()).map(str::to_owned));
                match authenticate(&state, bearer.as_deref()).await {
                    Auth::Principal(p) => {
                        let token = bearer
                            .as_deref()
                            .and_then(|b| b.strip_prefix("Bearer "))
                            .unwrap_or_default();
                        if let Some(exp) = state
                            .tokens
                            .verify(token.trim())
                            .ok()
                            .and_then(|c| DateTime::from_timestamp(c.exp, 0))
                        {
                            me.do_send(ExpiresAt(exp));
                        }
                        let mut data = async_graphql::Data::default();
                        data.insert(Auth::Principal(p));
                        Ok(data)
                    }
                    _ => Err(async_graphql::Error::new(REFUSED)),
                }
            })
            .into_actor(self)
            .map(|message, _act, ctx| match message {
                WsMessage::Text(text) => ctx.text(text),
                WsMessage::Close(code, reason) => {
                    // async-graphql closes a refused init with 1002; the protocol says 4403.
                    let code = if reason == REFUSED { FORBIDDEN } else { code };
                    ctx.close(Some(CloseReason {
                        code: CloseCode::from(code),
                        description: Some(reason),
                    }));
                    ctx.stop();
                }
            })
            .finish()
            .spawn(ctx);
        self.messages = Some(tx);
    }
}

impl Handler<ExpiresAt> for SubscriptionSocket {
    type Result = ();

    fn handle(&mut self, msg: ExpiresAt, ctx: &mut Self::Context) {
        let left = (msg.0 - Utc::now()).to_std().unwrap_or(Duration::ZERO);
        ctx.run_later(left, |_, ctx| {
            ctx.close(Some(CloseReason {
                code: CloseCode::from(FORBIDDEN),
                description: Some(EXPIRED.to_owned()),
            }));
            ctx.stop();
        });
    }
}

impl StreamHandler<Result<Message, ProtocolError>> for SubscriptionSocket {
    fn handle(&mut self, msg: Result<Message, ProtocolError>, ctx: &mut Self::Context) {
        let Ok(msg) = msg else {
            ctx.stop();
            return;
        };
        let frame = match msg {
            Message::Ping(p) => {
                self.last_heartbeat = Instant::now();
                ctx.pong(&p);
                None
            }
            Message::Pong(_) => {
                self.last_heartbeat = Instant::now();
                None
            }
            Message::Text(t) => Some(t.into_bytes().to_vec()),
            Message::Binary(b) => Some(b.to_vec()),
            Message::Continuation(item) => match item {
                actix_http::ws::Item::FirstText(b) | actix_http::ws::Item::FirstBinary(b) => {
                    self.continuation = b.to_vec();
                    None
                }
                actix_http::ws::Item::Continue(b) => {
                    self.continuation.extend_from_slice(&b);
                    None
                }
                actix_http::ws::Item::Last(b) => {
                    self.continuation.extend_from_slice(&b);
                    Some(std::mem::take(&mut self.continuation))
                }
            },
            Message::Close(_) => {
                ctx.stop();
                None
            }
            Message::Nop => None,
        };
        if let (Some(frame), Some(tx)) = (frame, self.messages.clone()) {
            async move { tx.send(frame).await }
                .into_actor(self)
                .map(|sent, _, ctx| {
                    if sent.is_err() {
                        ctx.stop();
                    }
                })
                .spawn(ctx);
        }
    }
}
