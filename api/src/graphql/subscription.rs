//! Live updates over WebSocket (`graphql-transport-ws`): a mailbox's changes and a case's
//! moves, with the same scope rules as queries. The access token travels in the connection's
//! init payload (`{"Authorization": "Bearer …"}`); an invalid or expired token is refused and
//! the socket closed with the protocol's 4403, as it is when the token expires while the socket
//! is open (see `crate::socket`).

use async_graphql::{Context, Enum, SimpleObject, Subscription, ID};
use domain::identity::Role as DomainRole;
use futures_util::stream::{self, Stream, StreamExt};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::auth::{require, Auth, Principal};
use crate::error::ApiError;
use crate::graphql::cases::Case;
use crate::graphql::catalog::Mailbox;
use crate::graphql::state;
use crate::mailbox::MailboxKey;
use crate::state::{AppState, CaseChange};
use crate::store::cases as store_cases;

/// Whether a case came into a mailbox or left it.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum MailboxChangeKind {
    /// The case arrived (registered, or passed on from another mailbox).
    Entered,
    /// The case left (passed on, or closed).
    Left,
}

/// A change in a mailbox, with the mailbox's counts after it.
#[derive(SimpleObject)]
pub struct MailboxChange {
    /// The mailbox.
    mailbox: Mailbox,
    /// Entered or left.
    change: MailboxChangeKind,
    /// The case that came in or left, as it is now.
    case: Case,
    /// Cases in the mailbox now.
    total: i64,
    /// Of which past their step's due time.
    overdue: i64,
    /// Of which due before the end of today (local time of the organisation).
    due_today: i64,
}

async fn counts(state: &AppState, key: MailboxKey) -> Result<(i64, i64, i64), ApiError> {
    let now = state.clock.now();
    let base = entity::service_case::Entity::find()
        .filter(entity::service_case::Column::CurrentOrgId.eq(key.org_id))
        .filter(
            entity::service_case::Column::CurrentMailbox.eq(store_cases::mailbox_str(key.mailbox)),
        );
    let total = base.clone().count(&state.db).await? as i64;
    let overdue = base
        .clone()
        .filter(entity::service_case::Column::StepDueAt.lt(now))
        .count(&state.db)
        .await? as i64;
    let org = entity::organisation::Entity::find_by_id(key.org_id)
        .one(&state.db)
        .await?;
    let end_of_day = match org {
        Some(o) => {
            let tz = store_cases::hours_and_zone(state, &o)?.1;
            let local = now.with_timezone(&tz).date_naive();
            local
                .succ_opt()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .and_then(|d| d.and_local_timezone(tz).earliest())
                .map(|d| d.with_timezone(&chrono::Utc))
                .unwrap_or(now)
        }
        None => now,
    };
    let due_today = base
        .filter(entity::service_case::Column::StepDueAt.lt(end_of_day))
        .count(&state.db)
        .await? as i64;
    Ok((total, overdue, due_today))
}

/// The case of a change, loaded once for all its subscribers.
async fn case_of(state: &AppState, c: CaseChange) -> Result<Case, ApiError> {
    let db = state.db.clone();
    let model = state
        .live
        .cases
        .get_or_load((c.case_id, c.version), || async move {
            store_cases::find(&db, c.case_id)
                .await?
                .map(std::sync::Arc::new)
                .ok_or_else(|| ApiError::NotFound("no such case".into()))
        })
        .await?;
    Case::try_from((*model).clone())
}

/// The subscriber's account as it is now, checked once per change for all its subscriptions:
/// deactivated, or in another role or organisation, and nothing more is sent (the socket is
/// closed at its next heartbeat).
async fn still_active(state: &AppState, p: &Principal, c: CaseChange) -> Result<(), ApiError> {
    let key = (p.subject.claim(), p.role.as_str(), c.case_id, c.version);
    let (state2, p2) = (state.clone(), p.clone());
    let active = state
        .live
        .accounts
        .get_or_load(key, || async move {
            Ok::<_, ApiError>(matches!(
                crate::auth::load_principal(&state2, p2.subject.clone()).await?,
                Some(now) if now.role == p2.role && now.organisation_id == p2.organisation_id
            ))
        })
        .await?;
    if active {
        Ok(())
    } else {
        Err(ApiError::Forbidden)
    }
}

fn changes(state: &AppState) -> impl Stream<Item = CaseChange> + use<> {
    let rx = state.events.subscribe();
    stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(change) => return Some((change, rx)),
                // A slow subscriber missed some changes: carry on with the next.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
}

/// Subscriptions.
#[derive(Default)]
pub struct Subscription;

/// Live updates over WebSocket (graphql-transport-ws).
#[Subscription]
impl Subscription {
    /// Changes of one of the caller's organisation's mailboxes: a case entered or left, with the
    /// counts after the change.
    async fn mailbox_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The mailbox.")] mailbox: Mailbox,
    ) -> Result<impl Stream<Item = async_graphql::Result<MailboxChange>>, ApiError> {
        let p = require(
            ctx,
            &[
                DomainRole::OfficeClerk,
                DomainRole::Head,
                DomainRole::Executor,
                DomainRole::CorporationOperator,
            ],
        )?;
        let mb: domain::regulation::Mailbox = mailbox.into();
        if (p.role == DomainRole::CorporationOperator)
            != (mb == domain::regulation::Mailbox::Corporation)
        {
            return Err(ApiError::Forbidden);
        }
        let key = MailboxKey {
            org_id: p.organisation_id.ok_or(ApiError::Forbidden)?,
            mailbox: mb,
        };
        let p = p.clone();
        let state = state(ctx)?.clone();
        Ok(changes(&state)
            .filter_map(move |c| {
                let kind = if c.to == Some(key) {
                    Some(MailboxChangeKind::Entered)
                } else if c.from == Some(key) {
                    Some(MailboxChangeKind::Left)
                } else {
                    None
                };
                std::future::ready(kind.map(|k| (k, c)))
            })
            .then(move |(change, c)| {
                let (state, p) = (state.clone(), p.clone());
                async move {
                    let load = async {
                        still_active(&state, &p, c).await?;
                        let case = case_of(&state, c).await?;
                        let db_state = state.clone();
                        let (total, overdue, due_today) = state
                            .live
                            .counts
                            .get_or_load(
                                (
                                    c.case_id,
                                    c.version,
                                    key.org_id,
                                    store_cases::mailbox_str(key.mailbox),
                                ),
                                || async move { counts(&db_state, key).await },
                            )
                            .await?;
                        Ok::<_, ApiError>(MailboxChange {
                            mailbox,
                            change,
                            case,
                            total,
                            overdue,
                            due_today,
                        })
                    };
                    load.await.map_err(async_graphql::Error::from)
                }
            }))
    }

    /// Every move of one case, for staff in scope and for the applicant who owns it; a case
    /// outside the caller's scope is `NOT_FOUND`.
    async fn case_updated(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Case id.")] case_id: ID,
    ) -> Result<impl Stream<Item = async_graphql::Result<Case>>, ApiError> {
        let c = crate::graphql::cases::load_visible(ctx, &case_id).await?;
        let p = match ctx.data_opt::<Auth>() {
            Some(Auth::Principal(p)) => p.clone(),
            _ => return Err(ApiError::Unauthenticated),
        };
        let state = state(ctx)?.clone();
        let id = c.id;
        Ok(changes(&state)
            .filter(move |change| std::future::ready(change.case_id == id))
            .then(move |change| {
                let (state, p) = (state.clone(), p.clone());
                async move {
                    let load = async {
                        still_active(&state, &p, change).await?;
                        case_of(&state, change).await
                    };
                    load.await.map_err(async_graphql::Error::from)
                }
            }))
    }
}
