//! Live updates over WebSocket (`graphql-transport-ws`): a mailbox's changes and a case's
//! moves, with the same scope rules as queries. The access token travels in the connection's
//! init payload (`{"Authorization": "Bearer …"}`); an invalid or expired token is refused and
//! the socket closed with the protocol's 4403, as it is when the token expires while the socket
//! is open (see `crate::socket`).

use async_graphql::{Context, Enum, SimpleObject, Subscription, ID};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use domain::identity::Role as DomainRole;
use futures_util::stream::{self, Stream, StreamExt};

use crate::auth::{require, Auth, Principal};
use crate::error::ApiError;
use crate::graphql::cases::Case;
use crate::graphql::catalog::Mailbox;
use crate::graphql::state;
use crate::mailbox::{MailboxKey, Mailboxes};
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
    /// Of which due from now until the end of the organisation's local day (as the inbox's
    /// `dueTodayCount`).
    due_today: i64,
    /// Where this change stands in the mailbox's stream: pass the last one received as
    /// `after` when subscribing again (after a reconnect, a new token) to be sent what was
    /// missed first. Opaque.
    position: String,
    /// True for a change sent again on resumption rather than live. Delivery is at least once:
    /// a change may come twice (same case, same `case.version`, same `change`).
    replayed: bool,
}

/// How far before a resumption's position changes are sent again: a move that committed a
/// moment after a later one is not missed.
pub const REPLAY_GRACE_SECONDS: i64 = 10;
/// The most changes sent on resumption; more missed, and the subscription answers
/// `RESYNC_REQUIRED` (reload the inbox, then subscribe without a position).
pub const MAX_REPLAY: u64 = 500;

fn position(at: chrono::DateTime<chrono::Utc>) -> String {
    URL_SAFE_NO_PAD.encode(format!("t{}", at.timestamp_micros()))
}

fn parse_position(s: &str) -> Result<chrono::DateTime<chrono::Utc>, ApiError> {
    let bad = || ApiError::BadUserInput("invalid position".into());
    let raw = URL_SAFE_NO_PAD.decode(s).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let micros = text
        .strip_prefix('t')
        .ok_or_else(bad)?
        .parse()
        .map_err(|_| bad())?;
    chrono::DateTime::from_timestamp_micros(micros).ok_or_else(bad)
}

/// A mailbox's counts now, from its live tally, once `seen` is counted.
async fn counts(
    state: &AppState,
    mailboxes: &Mailboxes,
    key: MailboxKey,
    seen: Option<CaseChange>,
) -> Result<(i64, i64, i64), ApiError> {
    let now = state.clock.now();
    let org = state
        .organisations
        .get(&state.db, key.org_id)
        .await?
        .ok_or(ApiError::Forbidden)?;
    let tz = store_cases::hours_and_zone(state, &org)?.1;
    let whole = crate::store::inbox::InboxQuery::whole(key.org_id, key.mailbox);
    let c = mailboxes
        .count(
            &state.db,
            key,
            &whole,
            now,
            domain::inbox::due_today(now, tz),
            seen,
        )
        .await?;
    Ok((c.total, c.overdue, c.due_today))
}

/// A case as it is now, with when it last moved.
async fn current(
    state: &AppState,
    id: i64,
) -> Result<(Case, chrono::DateTime<chrono::Utc>), ApiError> {
    let model = store_cases::find(&state.db, id)
        .await?
        .ok_or_else(|| ApiError::NotFound("no such case".into()))?;
    let at = model.updated_at;
    Ok((Case::try_from(model)?, at))
}

/// The case of a change, loaded once for all its subscribers.
async fn case_of(
    state: &AppState,
    c: CaseChange,
) -> Result<(Case, chrono::DateTime<chrono::Utc>), ApiError> {
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
    Ok((Case::try_from((*model).clone())?, model.updated_at))
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
        .get_or_load(key, || async move { unchanged(&state2, &p2).await })
        .await?;
    if active {
        Ok(())
    } else {
        Err(ApiError::Forbidden)
    }
}

/// Whether the subscriber's account is still active, in the same role and organisation.
async fn unchanged(state: &AppState, p: &Principal) -> Result<bool, ApiError> {
    Ok(matches!(
        crate::auth::load_principal(state, p.subject.clone()).await?,
        Some(now) if now.role == p.role && now.organisation_id == p.organisation_id
    ))
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
    /// counts after the change. Given `after` (the `position` of the last change received),
    /// what was missed since is sent first (`replayed: true`), then live changes.
    async fn mailbox_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The mailbox.")] mailbox: Mailbox,
        #[graphql(
            desc = "The `position` of the last change received, to resume from.",
            validator(chars_max_length = 64)
        )]
        after: Option<String>,
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
        let mailboxes = crate::graphql::mailboxes(ctx)?.clone();
        // Subscribed before the missed changes are read: nothing falls between the two.
        let live = changes(&state);
        let missed = match after.as_deref() {
            Some(pos) => {
                let since = parse_position(pos)? - chrono::Duration::seconds(REPLAY_GRACE_SECONDS);
                let moves = crate::store::inbox::moves_since(
                    &state.db,
                    key.org_id,
                    key.mailbox,
                    since,
                    MAX_REPLAY + 1,
                )
                .await?;
                if moves.len() as u64 > MAX_REPLAY {
                    return Err(ApiError::Rule {
                        code: "RESYNC_REQUIRED",
                        message: format!(
                            "more than {MAX_REPLAY} changes were missed: reload the inbox, then \
                             subscribe without a position"
                        ),
                    });
                }
                moves
            }
            None => Vec::new(),
        };
        let replay_state = state.clone();
        let replay_p = p.clone();
        let replay_mailboxes = mailboxes.clone();
        let replay = stream::iter(missed).then(move |(case_id, entered, at)| {
            let (state, p, mailboxes) = (
                replay_state.clone(),
                replay_p.clone(),
                replay_mailboxes.clone(),
            );
            async move {
                let load = async {
                    if !unchanged(&state, &p).await? {
                        return Err(ApiError::Forbidden);
                    }
                    let (case, _) = current(&state, case_id).await?;
                    let (total, overdue, due_today) = counts(&state, &mailboxes, key, None).await?;
                    Ok::<_, ApiError>(MailboxChange {
                        mailbox,
                        change: if entered {
                            MailboxChangeKind::Entered
                        } else {
                            MailboxChangeKind::Left
                        },
                        case,
                        total,
                        overdue,
                        due_today,
                        position: position(at),
                        replayed: true,
                    })
                };
                load.await.map_err(async_graphql::Error::from)
            }
        });
        Ok(replay.chain(
            live.filter_map(move |c| {
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
                let (state, p, mailboxes) = (state.clone(), p.clone(), mailboxes.clone());
                async move {
                    let load = async {
                        still_active(&state, &p, c).await?;
                        let (case, at) = case_of(&state, c).await?;
                        let (total, overdue, due_today) =
                            counts(&state, &mailboxes, key, Some(c)).await?;
                        Ok::<_, ApiError>(MailboxChange {
                            mailbox,
                            change,
                            case,
                            total,
                            overdue,
                            due_today,
                            position: position(at),
                            replayed: false,
                        })
                    };
                    load.await.map_err(async_graphql::Error::from)
                }
            }),
        ))
    }

    /// Every move of one case, for staff in scope and for the applicant who owns it; a case
    /// outside the caller's scope is `NOT_FOUND`. Given `afterVersion` (the `version` of the
    /// case last received), a case that has moved since is sent at once as it is now, then its
    /// later moves: nothing is missed across a reconnect.
    async fn case_updated(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Case id.")] case_id: ID,
        #[graphql(desc = "The `version` of the case last received, to resume from.")]
        after_version: Option<i32>,
    ) -> Result<impl Stream<Item = async_graphql::Result<Case>>, ApiError> {
        // Subscribed before the case is read: a move between the two is not missed.
        let live = changes(state(ctx)?);
        let c = crate::graphql::cases::load_visible(ctx, &case_id).await?;
        let p = match ctx.data_opt::<Auth>() {
            Some(Auth::Principal(p)) => p.clone(),
            _ => return Err(ApiError::Unauthenticated),
        };
        let state = state(ctx)?.clone();
        let id = c.id;
        // The case as it is now, when the client's copy is older; later moves only after it.
        let seen = c.version;
        let catch_up = match after_version {
            Some(v) if v < seen => Some(Case::try_from(c).map_err(async_graphql::Error::from)),
            _ => None,
        };
        Ok(stream::iter(catch_up).chain(
            live.filter(move |change| {
                std::future::ready(change.case_id == id && change.version > seen)
            })
            .then(move |change| {
                let (state, p) = (state.clone(), p.clone());
                async move {
                    let load = async {
                        still_active(&state, &p, change).await?;
                        Ok::<_, ApiError>(case_of(&state, change).await?.0)
                    };
                    load.await.map_err(async_graphql::Error::from)
                }
            }),
        ))
    }
}
