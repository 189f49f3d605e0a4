//! Mailboxes are actors: one per (organisation, mailbox), started on demand by the [`Registry`]
//! and supervised. A command goes to the mailbox that holds the case; the actor runs the domain
//! decision and commits it in one transaction ([`crate::store::cases`], which also queues the
//! change for the other nodes inside that transaction), then tells this node's subscribers.
//!
//! Who sends what: GraphQL resolvers send [`Create`] to the intake mailbox and [`Execute`] to the
//! mailbox that holds the case, and await the reply.
//!
//! Commands on one case never interleave: the mailbox runs one command per case at a time and
//! queues the next; commands on different cases in the same mailbox run side by side. Across
//! processes the version check makes the loser fail with `CONFLICT`.
//!
//! The database is the truth: an actor holds only the commands in flight. A command that panics
//! is answered `INTERNAL` and the actor restarts.

use std::collections::{HashMap, HashSet, VecDeque};
use std::panic::AssertUnwindSafe;

use actix::prelude::*;
use entity::service_case;
use futures_util::FutureExt;

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::cases::{self, NewCase};
use domain::engine::{Actor as CaseActor, Command as CaseCommand};

pub use crate::events::MailboxKey;

/// Create a case here (intake).
#[derive(Message)]
#[rtype(result = "Result<(service_case::Model, bool), ApiError>")]
pub struct Create(pub NewCase);

/// Move a case held here.
#[derive(Message)]
#[rtype(result = "Result<service_case::Model, ApiError>")]
pub struct Execute {
    /// The case.
    pub case_id: i64,
    /// The case as the caller read it (its version is the one the command expects).
    pub current: Box<service_case::Model>,
    /// The version the caller saw.
    pub expected_version: i32,
    /// What to do.
    pub command: CaseCommand,
    /// Who does it.
    pub actor: CaseActor,
}

/// One mailbox.
pub struct MailboxActor {
    key: MailboxKey,
    state: AppState,
    /// Cases with a command running.
    busy: HashSet<i64>,
    /// Commands waiting for the case's running command to finish, per case.
    waiting: HashMap<i64, VecDeque<Pending>>,
}

type Reply = tokio::sync::oneshot::Sender<Result<service_case::Model, ApiError>>;

struct Pending {
    msg: Execute,
    reply: Reply,
}

/// A command finished (sent by the task that ran it).
#[derive(Message)]
#[rtype(result = "()")]
struct Finished {
    case_id: Option<i64>,
    moved: Option<service_case::Model>,
    panicked: bool,
}

impl MailboxActor {
    fn new(key: MailboxKey, state: AppState) -> MailboxActor {
        MailboxActor {
            key,
            state,
            busy: HashSet::new(),
            waiting: HashMap::new(),
        }
    }

    /// Runs a command now, or queues it behind the command running on the same case.
    fn submit(&mut self, p: Pending, ctx: &mut Context<Self>) {
        let case_id = p.msg.case_id;
        if !self.busy.insert(case_id) {
            self.waiting.entry(case_id).or_default().push_back(p);
            return;
        }
        let (state, addr) = (self.state.clone(), ctx.address());
        actix::spawn(async move {
            let m = p.msg;
            let (result, panicked) = guarded(cases::apply(
                &state,
                *m.current,
                m.expected_version,
                m.command,
                &m.actor,
            ))
            .await;
            let moved = result.as_ref().ok().cloned();
            addr.do_send(Finished {
                case_id: Some(case_id),
                moved,
                panicked,
            });
            let _ = p.reply.send(result);
        });
    }
}

impl Actor for MailboxActor {
    type Context = Context<Self>;
}

impl Supervised for MailboxActor {
    fn restarting(&mut self, _ctx: &mut Context<Self>) {
        tracing::warn!(org = self.key.org_id, mailbox = ?self.key.mailbox, "mailbox actor restarting");
        self.busy.clear();
        self.waiting.clear();
    }
}

/// Runs a store call, turning a panic into an `INTERNAL` answer (the caller then stops the actor
/// so that its supervisor restarts it).
async fn guarded<T>(
    fut: impl std::future::Future<Output = Result<T, ApiError>>,
) -> (Result<T, ApiError>, bool) {
    match AssertUnwindSafe(fut).catch_unwind().await {
        Ok(r) => (r, false),
        Err(_) => (
            Err(ApiError::internal(std::io::Error::other(
                "a mailbox command panicked",
            ))),
            true,
        ),
    }
}

impl Handler<Create> for MailboxActor {
    type Result = ResponseFuture<Result<(service_case::Model, bool), ApiError>>;

    fn handle(&mut self, msg: Create, ctx: &mut Context<Self>) -> Self::Result {
        // A new case has no history to interleave with: registrations run side by side.
        let (state, addr) = (self.state.clone(), ctx.address());
        Box::pin(async move {
            let (result, panicked) = guarded(cases::create(&state, msg.0)).await;
            let moved = result.as_ref().ok().map(|(c, _)| c.clone());
            addr.do_send(Finished {
                case_id: None,
                moved,
                panicked,
            });
            result
        })
    }
}

impl Handler<Execute> for MailboxActor {
    type Result = ResponseFuture<Result<service_case::Model, ApiError>>;

    fn handle(&mut self, msg: Execute, ctx: &mut Context<Self>) -> Self::Result {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.submit(Pending { msg, reply }, ctx);
        Box::pin(async move {
            answer.await.unwrap_or_else(|_| {
                Err(ApiError::internal(std::io::Error::other(
                    "the mailbox restarted",
                )))
            })
        })
    }
}

impl Handler<Finished> for MailboxActor {
    type Result = ();

    fn handle(&mut self, msg: Finished, ctx: &mut Context<Self>) {
        if let Some(id) = msg.case_id {
            self.busy.remove(&id);
        }
        if msg.panicked {
            // Pending replies are dropped (their callers get INTERNAL); the supervisor restarts us.
            ctx.stop();
            return;
        }
        if let Some(moved) = &msg.moved {
            // This node's subscribers hear of every move, one within a mailbox (a returned
            // draft) too; the other nodes were told by the move's own transaction.
            let change = crate::events::CaseChange {
                case_id: moved.id,
                version: moved.version,
                from: msg.case_id.map(|_| self.key),
                to: MailboxKey::of(moved),
            };
            let _ = self.state.events.send(change);
            // A new step may fall due before the watchdog's next wake-up.
            self.state.watchdog_wake.notify_one();
        }
        let Some(id) = msg.case_id else { return };
        let next = self.waiting.get_mut(&id).and_then(VecDeque::pop_front);
        if self.waiting.get(&id).is_some_and(VecDeque::is_empty) {
            self.waiting.remove(&id);
        }
        if let Some(p) = next {
            self.submit(p, ctx);
        }
    }
}

/// Starts mailbox actors on demand and keeps their addresses.
pub struct Registry {
    state: AppState,
    actors: HashMap<MailboxKey, Addr<MailboxActor>>,
}

impl Actor for Registry {
    type Context = Context<Self>;
}

/// The address of a mailbox, started if needed.
#[derive(Message)]
#[rtype(result = "Addr<MailboxActor>")]
pub struct Get(pub MailboxKey);

impl Handler<Get> for Registry {
    type Result = MessageResult<Get>;

    fn handle(&mut self, msg: Get, _ctx: &mut Context<Self>) -> Self::Result {
        let key = msg.0;
        if let Some(addr) = self.actors.get(&key).filter(|a| a.connected()) {
            return MessageResult(addr.clone());
        }
        let state = self.state.clone();
        let addr = Supervisor::start(move |_| MailboxActor::new(key, state));
        self.actors.insert(key, addr.clone());
        MessageResult(addr)
    }
}

/// The handle the resolvers use (schema data), made by [`Mailboxes::start`].
#[derive(Clone)]
pub struct Mailboxes(Addr<Registry>);

impl Mailboxes {
    /// Starts the registry of this server's mailboxes.
    pub fn start(state: &AppState) -> Mailboxes {
        Mailboxes(
            Registry {
                state: state.clone(),
                actors: HashMap::new(),
            }
            .start(),
        )
    }

    /// The actor of a mailbox.
    pub async fn get(&self, key: MailboxKey) -> Result<Addr<MailboxActor>, ApiError> {
        self.0.send(Get(key)).await.map_err(ApiError::internal)
    }

    /// Creates a case through the intake mailbox.
    pub async fn create(
        &self,
        key: MailboxKey,
        new: NewCase,
    ) -> Result<(service_case::Model, bool), ApiError> {
        self.get(key)
            .await?
            .send(Create(new))
            .await
            .map_err(ApiError::internal)?
    }

    /// Sends a command to the mailbox that holds the case.
    pub async fn execute(
        &self,
        key: MailboxKey,
        msg: Execute,
    ) -> Result<service_case::Model, ApiError> {
        self.get(key)
            .await?
            .send(msg)
            .await
            .map_err(ApiError::internal)?
    }
}
