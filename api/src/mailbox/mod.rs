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
//! Each actor also owns its mailbox's live counts (a [`Tally`]): read from the database when it
//! starts, then kept from every change it is told of — this node's moves before they are
//! answered (a client that has just moved a case reads the new counts), the watchdog's marks,
//! and other nodes' moves as PostgreSQL delivers them. Inbox totals and subscription events are
//! answered from it, not from `COUNT`s. The database stays the truth: a tally that may have
//! missed a change (the event bus overflowed) is thrown away and read again.
//!
//! A command that panics is answered `INTERNAL` and the actor restarts (and rereads its tally).

use std::collections::{HashMap, HashSet, VecDeque};
use std::panic::AssertUnwindSafe;

use actix::prelude::*;
use entity::service_case;
use futures_util::FutureExt;

use chrono::{DateTime, Utc};
use domain::case::Stage;
use domain::tally::{Counts, Tally};

use crate::error::ApiError;
use crate::events::CaseChange;
use crate::state::AppState;
use crate::store::cases::{self, NewCase};
use crate::store::inbox::InboxQuery;
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

/// The mailbox's counts at `now` ("today" being `today`), over `stages` (empty: all), once
/// `seen` (a change the asker has heard of) is counted. `None` while the tally cannot be read
/// (the database was unreachable when the actor started): the asker counts in the database.
#[derive(Message)]
#[rtype(result = "Option<Counts>")]
pub struct Count {
    /// The instant.
    pub now: DateTime<Utc>,
    /// "Today" in the organisation's zone (`domain::inbox::due_today`).
    pub today: (DateTime<Utc>, DateTime<Utc>),
    /// Only these stages (empty: all).
    pub stages: Vec<Stage>,
    /// A change to count first if it has not been yet.
    pub seen: Option<CaseChange>,
}

/// A change to count (sent to the mailboxes a case left and entered).
#[derive(Message)]
#[rtype(result = "()")]
struct Apply(CaseChange);

/// Forget the tally and read it again from the database.
#[derive(Message)]
#[rtype(result = "()")]
struct Reload;

/// One mailbox.
pub struct MailboxActor {
    key: MailboxKey,
    state: AppState,
    registry: Addr<Registry>,
    /// Cases with a command running.
    busy: HashSet<i64>,
    /// Commands waiting for the case's running command to finish, per case.
    waiting: HashMap<i64, VecDeque<Pending>>,
    /// The live counts; `None` until read (or when they could not be).
    tally: Option<Tally>,
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
    /// The case's version after the command, if it moved.
    version: Option<i32>,
    panicked: bool,
}

impl MailboxActor {
    fn new(key: MailboxKey, state: AppState, registry: Addr<Registry>) -> MailboxActor {
        MailboxActor {
            key,
            state,
            registry,
            busy: HashSet::new(),
            waiting: HashMap::new(),
            tally: None,
        }
    }

    /// Reads the tally from the database, holding every other message until it is read.
    fn load(&mut self, ctx: &mut Context<Self>) {
        self.tally = None;
        let (db, key) = (self.state.db.clone(), self.key);
        ctx.wait(
            async move { crate::store::inbox::held(&db, key.org_id, key.mailbox).await }
                .into_actor(self)
                .map(move |rows, act, _| match rows {
                    Ok(rows) => {
                        let mut t = Tally::new();
                        for (id, version, due, stage) in rows {
                            if let Some(stage) = Stage::parse(&stage) {
                                t.place(id, version, due, stage);
                            }
                        }
                        act.tally = Some(t);
                    }
                    Err(e) => {
                        tracing::warn!(org = key.org_id, mailbox = ?key.mailbox, error = %e,
                            "cannot read a mailbox's counts; counting in the database meanwhile");
                    }
                }),
        );
    }

    /// Counts a change that concerns this mailbox.
    /// A change that says a case entered without saying its stage (sent by a node of an older
    /// version, during a rolling upgrade) cannot be counted: the tally is read again.
    fn apply(&mut self, c: &CaseChange, ctx: &mut Context<Self>) {
        let Some(t) = &mut self.tally else { return };
        if c.to == Some(self.key) {
            match c.stage {
                Some(stage) => {
                    t.place(c.case_id, c.version, c.due, stage);
                }
                None => self.load(ctx),
            }
        } else if c.from == Some(self.key) {
            t.leave(c.case_id, c.version);
        }
    }

    /// Runs a command now, or queues it behind the command running on the same case.
    fn submit(&mut self, p: Pending, ctx: &mut Context<Self>) {
        let case_id = p.msg.case_id;
        if !self.busy.insert(case_id) {
            self.waiting.entry(case_id).or_default().push_back(p);
            return;
        }
        let (state, addr, registry, key) = (
            self.state.clone(),
            ctx.address(),
            self.registry.clone(),
            self.key,
        );
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
            let version = result.as_ref().ok().map(|c| c.version);
            if let Ok(moved) = &result {
                let change = CaseChange {
                    from: Some(key),
                    ..CaseChange::of(None, moved)
                };
                // Counted and announced before the caller hears of it.
                let _ = registry.send(Tell::local(change)).await;
            }
            addr.do_send(Finished {
                case_id: Some(case_id),
                version,
                panicked,
            });
            let _ = p.reply.send(result);
        });
    }
}

impl Actor for MailboxActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.load(ctx);
    }
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
        let (state, addr, registry) = (self.state.clone(), ctx.address(), self.registry.clone());
        Box::pin(async move {
            let (result, panicked) = guarded(cases::create(&state, msg.0)).await;
            if let Ok((created, _)) = &result {
                let _ = registry
                    .send(Tell::local(CaseChange::of(None, created)))
                    .await;
            }
            addr.do_send(Finished {
                case_id: None,
                version: None,
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
        let Some(id) = msg.case_id else { return };
        // Commands that expected the version this one replaced cannot succeed: they are answered
        // at once, without a round trip to the database.
        while let Some(p) = self.waiting.get_mut(&id).and_then(VecDeque::pop_front) {
            match msg.version {
                Some(v) if p.msg.expected_version < v => {
                    crate::metrics::stale_command();
                    let _ = p.reply.send(Err(cases::stale(v, p.msg.expected_version)));
                }
                _ => {
                    self.submit(p, ctx);
                    break;
                }
            }
        }
        if self.waiting.get(&id).is_some_and(VecDeque::is_empty) {
            self.waiting.remove(&id);
        }
    }
}

impl Handler<Apply> for MailboxActor {
    type Result = ();

    fn handle(&mut self, msg: Apply, ctx: &mut Context<Self>) {
        self.apply(&msg.0, ctx);
    }
}

impl Handler<Reload> for MailboxActor {
    type Result = ();

    fn handle(&mut self, _msg: Reload, ctx: &mut Context<Self>) {
        self.load(ctx);
    }
}

impl Handler<Count> for MailboxActor {
    type Result = Option<Counts>;

    fn handle(&mut self, msg: Count, ctx: &mut Context<Self>) -> Self::Result {
        if let Some(c) = &msg.seen {
            self.apply(c, ctx);
        }
        match &mut self.tally {
            Some(t) => Some(t.counts(msg.now, msg.today, &msg.stages)),
            None => {
                // Try again for the next asker; this one counts in the database.
                self.load(ctx);
                None
            }
        }
    }
}

/// Starts mailbox actors on demand, keeps their addresses, and hands every change to the
/// mailboxes it concerns.
pub struct Registry {
    state: AppState,
    actors: HashMap<MailboxKey, Addr<MailboxActor>>,
}

impl Actor for Registry {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // Every change on this node's bus — the watchdog's, other nodes' (from the listener) and
        // this node's own moves again (counted once: the tally ignores repeats) — reaches the
        // mailboxes. A receiver that fell behind lost changes: every tally is read again.
        let mut rx = self.state.events.subscribe();
        let me = ctx.address();
        actix::spawn(async move {
            use tokio::sync::broadcast::error::RecvError;
            loop {
                let tell = match rx.recv().await {
                    Ok(change) => Tell {
                        change: Some(change),
                        announce: false,
                    },
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "mailbox counts fell behind; reading them again");
                        Tell {
                            change: None,
                            announce: false,
                        }
                    }
                    Err(RecvError::Closed) => return,
                };
                if me.send(tell).await.is_err() {
                    return;
                }
            }
        });
    }
}

/// A change for the mailboxes it concerns; `None`: changes were lost, every mailbox rereads.
#[derive(Message)]
#[rtype(result = "()")]
struct Tell {
    change: Option<CaseChange>,
    /// Also announce it on this node's bus (a move made here).
    announce: bool,
}

impl Tell {
    fn local(change: CaseChange) -> Tell {
        Tell {
            change: Some(change),
            announce: true,
        }
    }
}

impl Handler<Tell> for Registry {
    type Result = ();

    fn handle(&mut self, msg: Tell, _ctx: &mut Context<Self>) {
        let Some(change) = msg.change else {
            for a in self.actors.values() {
                a.do_send(Reload);
            }
            return;
        };
        // A mailbox not started yet reads its tally when it starts, after this commit.
        for key in [change.from, change.to].into_iter().flatten() {
            if let Some(a) = self.actors.get(&key) {
                a.do_send(Apply(change));
            }
        }
        if msg.announce {
            // This node's subscribers hear of every move, one within a mailbox (a returned
            // draft) too; the other nodes were told by the move's own transaction.
            let _ = self.state.events.send(change);
            // A new step may fall due before the watchdog's next wake-up.
            self.state.watchdog_wake.notify_one();
        }
    }
}

/// The address of a mailbox, started if needed.
#[derive(Message)]
#[rtype(result = "Addr<MailboxActor>")]
pub struct Get(pub MailboxKey);

impl Handler<Get> for Registry {
    type Result = MessageResult<Get>;

    fn handle(&mut self, msg: Get, ctx: &mut Context<Self>) -> Self::Result {
        let key = msg.0;
        if let Some(addr) = self.actors.get(&key).filter(|a| a.connected()) {
            return MessageResult(addr.clone());
        }
        let (state, me) = (self.state.clone(), ctx.address());
        let addr = Supervisor::start(move |_| MailboxActor::new(key, state, me));
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

    /// An inbox query's counts: from the mailbox's live tally when it can count them (no
    /// filter but stages; `seen` is a change to count first), else — or while the tally cannot
    /// be read — in the database.
    pub async fn count(
        &self,
        db: &sea_orm::DatabaseConnection,
        key: MailboxKey,
        query: &InboxQuery,
        now: DateTime<Utc>,
        today: (DateTime<Utc>, DateTime<Utc>),
        seen: Option<CaseChange>,
    ) -> Result<Counts, ApiError> {
        if query.counted_live() {
            let ask = Count {
                now,
                today,
                stages: query.stages.clone(),
                seen,
            };
            let live = self.get(key).await?.send(ask).await;
            if let Some(c) = live.map_err(ApiError::internal)? {
                return Ok(c);
            }
        }
        crate::store::inbox::count(db, query, now, today).await
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
