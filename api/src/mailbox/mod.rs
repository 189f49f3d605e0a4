//! Mailboxes are actors: one per (organisation, mailbox), started on demand by the [`Registry`]
//! and supervised. A command goes to the mailbox that holds the case; the actor runs the domain
//! decision and commits it in one transaction ([`crate::store::cases`]), then passes the case to
//! the next mailbox, which takes it in and recounts what it holds.
//!
//! Who sends what:
//! - GraphQL resolvers send [`Create`] to the intake mailbox and [`Execute`] to the mailbox that
//!   holds the case, and await the reply;
//! - a mailbox sends [`TakeIn`] (through the registry) to the mailbox a case moved to;
//! - anyone may ask a mailbox for its [`Counts`].
//!
//! Commands on one case never interleave: the mailbox runs one command per case at a time and
//! queues the next; commands on different cases in the same mailbox run side by side. Across
//! processes the version check makes the loser fail with `CONFLICT`.
//!
//! The database is the truth: an actor holds only its counts and the commands in flight,
//! rebuilt from the database when it starts or restarts. A command that panics is answered
//! `INTERNAL` and the actor restarts.

use std::collections::{HashMap, HashSet, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, OnceLock};

use actix::prelude::*;
use chrono::{DateTime, Utc};
use domain::regulation::Mailbox;
use entity::service_case;
use futures_util::FutureExt;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::cases::{self, NewCase};
use domain::engine::{Actor as CaseActor, Command as CaseCommand};

/// One organisation's mailbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MailboxKey {
    /// The organisation.
    pub org_id: i64,
    /// The mailbox.
    pub mailbox: Mailbox,
}

impl MailboxKey {
    /// Where a case is now, if it is in a mailbox.
    pub fn of(c: &service_case::Model) -> Option<MailboxKey> {
        Some(MailboxKey {
            org_id: c.current_org_id?,
            mailbox: cases::parse_mailbox(c.current_mailbox.as_deref()?)?,
        })
    }
}

/// What a mailbox holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, MessageResponse)]
pub struct Counts {
    /// Cases in the mailbox.
    pub total: u64,
    /// Of which past their step's due time.
    pub overdue: u64,
}

/// Counts a mailbox's cases from the database.
pub async fn count(
    state: &AppState,
    key: MailboxKey,
    now: DateTime<Utc>,
) -> Result<Counts, ApiError> {
    let base = service_case::Entity::find()
        .filter(service_case::Column::CurrentOrgId.eq(key.org_id))
        .filter(service_case::Column::CurrentMailbox.eq(cases::mailbox_str(key.mailbox)));
    let total = base.clone().count(&state.db).await?;
    let overdue = base
        .filter(service_case::Column::StepDueAt.lt(now))
        .count(&state.db)
        .await?;
    Ok(Counts { total, overdue })
}

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
    /// The version the caller saw.
    pub expected_version: i32,
    /// What to do.
    pub command: CaseCommand,
    /// Who does it.
    pub actor: CaseActor,
}

/// A case arrived here from another mailbox.
#[derive(Message)]
#[rtype(result = "()")]
pub struct TakeIn {
    /// The case.
    pub case_id: i64,
}

/// How many cases are here.
#[derive(Message)]
#[rtype(result = "Counts")]
pub struct GetCounts;

/// One mailbox.
pub struct MailboxActor {
    key: MailboxKey,
    state: AppState,
    counts: Counts,
    recounting: bool,
    recount_again: bool,
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

/// The result of a recount, sent back to the actor.
#[derive(Message)]
#[rtype(result = "()")]
struct Recounted(Result<Counts, ApiError>);

impl MailboxActor {
    fn new(key: MailboxKey, state: AppState) -> MailboxActor {
        MailboxActor {
            key,
            state,
            counts: Counts::default(),
            recounting: false,
            recount_again: false,
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
                m.case_id,
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

    /// Recounts off the actor's context: a future spawned in the context would be paused
    /// while an atomic command runs, holding its pooled connection, and starve the pool.
    /// One recount at a time; changes meanwhile ask for one more.
    fn recount(&mut self, ctx: &mut Context<Self>) {
        if self.recounting {
            self.recount_again = true;
            return;
        }
        self.recounting = true;
        let (state, key, addr) = (self.state.clone(), self.key, ctx.address());
        actix::spawn(async move {
            let now = state.clock.now();
            addr.do_send(Recounted(count(&state, key, now).await));
        });
    }

    fn pass_on(&self, moved: &service_case::Model) {
        if let Some(next) = MailboxKey::of(moved).filter(|k| *k != self.key) {
            self.state
                .mailboxes
                .forward(next, TakeIn { case_id: moved.id });
        }
    }
}

impl Actor for MailboxActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // Rebuild what this mailbox holds from the database.
        self.recount(ctx);
    }
}

impl Supervised for MailboxActor {
    fn restarting(&mut self, _ctx: &mut Context<Self>) {
        tracing::warn!(org = self.key.org_id, mailbox = ?self.key.mailbox, "mailbox actor restarting");
        self.counts = Counts::default();
        self.recounting = false;
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
            self.pass_on(moved);
            self.recount(ctx);
            let to = MailboxKey::of(moved);
            let from = msg.case_id.map(|_| self.key);
            // Subscribers hear of every move; a move within one mailbox (a returned draft) too.
            let change = crate::state::CaseChange {
                case_id: moved.id,
                version: moved.version,
                from,
                to,
            };
            let _ = self.state.events.send(change);
            crate::fanout::publish(&self.state, change);
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

impl Handler<Recounted> for MailboxActor {
    type Result = ();

    fn handle(&mut self, msg: Recounted, ctx: &mut Context<Self>) {
        self.recounting = false;
        match msg.0 {
            Ok(c) => self.counts = c,
            Err(e) => {
                tracing::warn!(error = %crate::error::ErrorChain(&e), "mailbox recount failed")
            }
        }
        if std::mem::take(&mut self.recount_again) {
            self.recount(ctx);
        }
    }
}

impl Handler<TakeIn> for MailboxActor {
    type Result = ();

    fn handle(&mut self, msg: TakeIn, ctx: &mut Context<Self>) {
        tracing::debug!(case = msg.case_id, org = self.key.org_id, mailbox = ?self.key.mailbox, "case taken in");
        self.recount(ctx);
    }
}

impl Handler<GetCounts> for MailboxActor {
    type Result = Counts;

    fn handle(&mut self, _msg: GetCounts, _ctx: &mut Context<Self>) -> Counts {
        self.counts
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

/// Deliver a message to a mailbox, starting it if needed.
#[derive(Message)]
#[rtype(result = "()")]
struct Forward(MailboxKey, TakeIn);

impl Handler<Forward> for Registry {
    type Result = ();

    fn handle(&mut self, msg: Forward, ctx: &mut Context<Self>) {
        let addr = self.handle(Get(msg.0), ctx).0;
        addr.do_send(msg.1);
    }
}

/// The handle the rest of the server uses: set once the registry is started.
#[derive(Clone, Default)]
pub struct Mailboxes(Arc<OnceLock<Addr<Registry>>>);

impl Mailboxes {
    /// Starts the registry for this state (once).
    pub fn start(state: &AppState) {
        let registry = Registry {
            state: state.clone(),
            actors: HashMap::new(),
        }
        .start();
        let _ = state.mailboxes.0.set(registry);
    }

    fn registry(&self) -> Result<&Addr<Registry>, ApiError> {
        self.0.get().ok_or_else(|| {
            ApiError::internal(std::io::Error::other("mailbox registry not started"))
        })
    }

    /// The actor of a mailbox.
    pub async fn get(&self, key: MailboxKey) -> Result<Addr<MailboxActor>, ApiError> {
        self.registry()?
            .send(Get(key))
            .await
            .map_err(ApiError::internal)
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

    /// Tells a mailbox a case arrived.
    pub fn forward(&self, key: MailboxKey, msg: TakeIn) {
        if let Ok(r) = self.registry() {
            r.do_send(Forward(key, msg));
        }
    }

    /// A mailbox's counts as its actor holds them.
    pub async fn counts(&self, key: MailboxKey) -> Result<Counts, ApiError> {
        self.get(key)
            .await?
            .send(GetCounts)
            .await
            .map_err(ApiError::internal)
    }
}
