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
//! The database is the truth: an actor holds only its counts, rebuilt from the database when it
//! starts or restarts. A command that panics is answered `INTERNAL` and the actor restarts.

use std::collections::HashMap;
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
use crate::store::cases::{self, Actor as CaseActor, CaseCommand, NewCase};

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
}

impl MailboxActor {
    fn recount(&mut self, ctx: &mut Context<Self>) {
        let (state, key) = (self.state.clone(), self.key);
        let now = state.clock.now();
        ctx.spawn(
            async move { count(&state, key, now).await }
                .into_actor(self)
                .map(|result, act, _| match result {
                    Ok(c) => act.counts = c,
                    Err(e) => tracing::warn!(error = %crate::error::ErrorChain(&e), "mailbox recount failed"),
                }),
        );
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
    type Result = AtomicResponse<Self, Result<(service_case::Model, bool), ApiError>>;

    fn handle(&mut self, msg: Create, _ctx: &mut Context<Self>) -> Self::Result {
        let state = self.state.clone();
        AtomicResponse::new(Box::pin(
            async move { guarded(cases::create(&state, msg.0)).await }
                .into_actor(self)
                .map(|(result, panicked), act, ctx| {
                    if panicked {
                        ctx.stop();
                    } else if let Ok((c, _)) = &result {
                        act.pass_on(c);
                        act.recount(ctx);
                    }
                    result
                }),
        ))
    }
}

impl Handler<Execute> for MailboxActor {
    type Result = AtomicResponse<Self, Result<service_case::Model, ApiError>>;

    fn handle(&mut self, msg: Execute, _ctx: &mut Context<Self>) -> Self::Result {
        let state = self.state.clone();
        AtomicResponse::new(Box::pin(
            async move {
                guarded(cases::apply(
                    &state,
                    msg.case_id,
                    msg.expected_version,
                    &msg.command,
                    &msg.actor,
                ))
                .await
            }
            .into_actor(self)
            .map(|(result, panicked), act, ctx| {
                if panicked {
                    ctx.stop();
                } else if let Ok(c) = &result {
                    act.pass_on(c);
                    act.recount(ctx);
                }
                result
            }),
        ))
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
        let addr = Supervisor::start(move |_| MailboxActor {
            key,
            state,
            counts: Counts::default(),
        });
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
