//! Cases in storage. Every change is one transaction: the case row updated only if its version
//! is the expected one, the step rows, and an append-only event whose hash chains to the
//! previous event of the case.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use domain::deadline::{WorkingClock, WorkingHours};
use domain::engine::{
    self, Actor, Application, Command, Org, Parties, StaffRef, Transition, WorkingTime,
};
use domain::identity::Role;
use domain::regulation::{Channel, Regulation};
use entity::{app_user, case_event, case_step, organisation, service_case};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, QueryFilter, QueryOrder,
};
use serde_json::json;

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::calendar::{content_hash, is_unique_violation};
use crate::store::regulation::StoredRegulation;
use crate::store::rollup;

/// A case to create.
#[derive(Clone, Debug)]
pub struct NewCase {
    /// The regulation version in force, pinned for the life of the case.
    pub regulation: StoredRegulation,
    /// The channel.
    pub channel: Channel,
    /// The provider.
    pub provider: organisation::Model,
    /// The State Corporation branch, for that channel.
    pub corporation: Option<organisation::Model>,
    /// The application.
    pub application: Application,
    /// The applicant's phone and e-mail, if given.
    pub contacts: Contacts,
    /// The applicant's account, for portal submissions.
    pub applicant_id: Option<i64>,
    /// A client-supplied key: a retried request returns the same case.
    pub idempotency_key: Option<String>,
    /// Who registers it.
    pub actor: Actor,
}

pub use crate::error::case_error;
pub use crate::store::case_rows::{
    attributes, channel_str, documents, far_future, mailbox_str, parse_channel, parse_mailbox,
    record, Contacts,
};
pub(crate) use crate::store::case_rows::{finish, new_row, step_row, write_record, Origin};

/// Working hours and zone of an organisation.
pub fn hours_and_zone(
    state: &AppState,
    org: &organisation::Model,
) -> Result<(WorkingHours, Tz), ApiError> {
    let hours = crate::store::directory::working_hours(org).map_err(ApiError::internal)?;
    let tz = state
        .regions
        .get(&org.region_code)
        .ok_or_else(|| {
            ApiError::internal(std::io::Error::other("organisation in an unknown region"))
        })?
        .tz()
        .map_err(ApiError::internal)?;
    Ok((hours, tz))
}

/// The organisations of a case as the engine sees them.
pub fn parties(
    provider: &organisation::Model,
    corporation: Option<&organisation::Model>,
) -> Parties {
    let org = |o: &organisation::Model| Org {
        id: o.id,
        code: o.code.clone(),
        region: o.region_code.clone(),
        kind: o.kind.clone(),
    };
    Parties {
        provider: org(provider),
        corporation: corporation.map(org),
    }
}

/// The working time of a case's organisations on `calendar`.
pub fn working_time<'a>(
    state: &AppState,
    calendar: &'a domain::calendar::WorkingCalendar,
    provider: &organisation::Model,
    corporation: Option<&organisation::Model>,
) -> Result<WorkingTime<'a>, ApiError> {
    let (ph, ptz) = hours_and_zone(state, provider)?;
    let corporation = match corporation {
        Some(c) => {
            let (h, tz) = hours_and_zone(state, c)?;
            Some(WorkingClock::new(calendar, h, tz))
        }
        None => None,
    };
    Ok(WorkingTime {
        provider: WorkingClock::new(calendar, ph, ptz),
        corporation,
    })
}

/// A case's provider and State Corporation branch (from the organisation cache).
pub async fn load_orgs(
    state: &AppState,
    provider_id: i64,
    corporation_id: Option<i64>,
) -> Result<(Arc<organisation::Model>, Option<Arc<organisation::Model>>), ApiError> {
    let provider = state
        .organisations
        .get(&state.db, provider_id)
        .await?
        .ok_or_else(|| ApiError::internal(std::io::Error::other("case provider missing")))?;
    let corporation = match corporation_id {
        Some(id) => state.organisations.get(&state.db, id).await?,
        None => None,
    };
    Ok((provider, corporation))
}

/// The SHA-256 of an application as submitted: a retried request with the same key must carry
/// the same application.
fn request_hash(new: &NewCase) -> Result<String, ApiError> {
    let text = serde_json::to_string(&json!({
        "regulation": new.regulation.regulation.code,
        "channel": channel_str(new.channel),
        "provider": new.provider.id,
        "corporation": new.corporation.as_ref().map(|c| c.id),
        "iin": new.application.applicant.iin,
        "name": new.application.applicant.full_name,
        "contacts": new.contacts,
        "documents": new.application.documents,
        "attributes": new.application.attributes,
        "appliesTo": new.application.applies_to,
    }))
    .map_err(ApiError::internal)?;
    Ok(content_hash(&text))
}

fn same_request(
    existing: service_case::Model,
    hash: &str,
) -> Result<service_case::Model, ApiError> {
    if existing.request_hash.as_deref().is_some_and(|h| h != hash) {
        return Err(ApiError::Rule {
            code: "IDEMPOTENCY_KEY_REUSED",
            message: "this idempotency key was used with a different application; use a new key \
                      for a new application"
                .into(),
        });
    }
    Ok(existing)
}

/// Creates a case. Returns the case and whether it was created now (false: the idempotency key
/// names an existing case with the same application, which is returned unchanged; with a
/// different application the key is refused with `IDEMPOTENCY_KEY_REUSED`).
pub async fn create(
    state: &AppState,
    new: NewCase,
) -> Result<(service_case::Model, bool), ApiError> {
    let now = state.clock.now();
    let db = &state.db;
    let hash = request_hash(&new)?;
    if let Some(key) = &new.idempotency_key {
        if let Some(existing) = by_idempotency_key(db, key).await? {
            return Ok((same_request(existing, &hash)?, false));
        }
    }
    let reg = new.regulation.regulation.clone();
    let calendar = state.calendar.current();
    let time = working_time(state, &calendar, &new.provider, new.corporation.as_ref())?;
    let parties = parties(&new.provider, new.corporation.as_ref());
    let tz = hours_and_zone(state, &new.provider)?.1;
    let local_date = now.with_timezone(&tz).date_naive();
    let ctx = engine::Context {
        regulation: &reg,
        regulation_version: new.regulation.row.version,
        parties: &parties,
        time: &time,
        now,
    };
    let decided =
        engine::decide_intake(&ctx, new.channel, &new.application, &new.actor, local_date)
            .map_err(case_error)?;

    let _writer = match &state.write_lock {
        Some(l) => Some(l.lock().await),
        None => None,
    };
    let txn = crate::store::begin_write(db).await?;
    let origin = Origin {
        regulation: &new.regulation,
        provider: &new.provider,
        corporation: new.corporation.as_ref(),
        calendar_version: calendar.version() as i32,
        contacts: &new.contacts,
        applicant_id: new.applicant_id,
        idempotency_key: new.idempotency_key.clone(),
        request_hash: Some(hash.clone()),
    };
    let mut row = new_row(&origin, &decided.case, now)?;
    row.number = Set(format!("pending-{}", crate::auth::token::random_hex(8)?));
    let inserted = match service_case::Entity::insert(row)
        .exec_with_returning(&txn)
        .await
    {
        Ok(m) => m,
        Err(e) if is_unique_violation(&e) && new.idempotency_key.is_some() => {
            // A concurrent retry with the same key won: return its case.
            txn.rollback().await?;
            let key = new.idempotency_key.as_deref().unwrap_or_default();
            let existing = by_idempotency_key(db, key).await?.ok_or_else(|| {
                ApiError::Conflict("a request with this idempotency key is in progress".into())
            })?;
            return Ok((same_request(existing, &hash)?, false));
        }
        Err(e) => return Err(e.into()),
    };
    let region_iso = state
        .regions
        .get(&new.provider.region_code)
        .map(|r| r.iso_code.clone())
        .unwrap_or_else(|| "KZ".into());
    let number = engine::registration_number(&region_iso, local_date, inserted.id);
    let t = decided.numbered(number);
    let written = persist(&txn, &inserted, None, &t, &parties, &new.actor.name, now).await?;
    tell_other_nodes(state, &txn, None, &written).await?;
    txn.commit().await?;
    Ok((written, true))
}

/// Applies a command to a case at its expected version, in one transaction: the engine decides
/// ([`engine::decide`]), this persists. `current` is the case as the caller read it (not read
/// again here): the write claims the row at `expected_version`, so a case that changed since is
/// `CONFLICT` and nothing is written.
pub async fn apply(
    state: &AppState,
    current: service_case::Model,
    expected_version: i32,
    command: Command,
    actor: &Actor,
) -> Result<service_case::Model, ApiError> {
    let now = state.clock.now();
    let db = &state.db;
    let case_id = current.id;
    if current.version != expected_version {
        return Err(stale(current.version, expected_version));
    }
    let reg = pinned(state, &current).await?;
    let (provider, corporation) =
        load_orgs(state, current.provider_id, current.corporation_id).await?;
    let parties = parties(&provider, corporation.as_deref());
    let calendar = state.calendar.current();
    let time = working_time(state, &calendar, &provider, corporation.as_deref())?;
    let command = match command {
        Command::AssignExecutor { name, .. } => {
            let executor = app_user::Entity::find()
                .filter(app_user::Column::Username.eq(name.as_str()))
                .one(db)
                .await?
                .map(|u| StaffRef {
                    id: u.id,
                    name: u.username,
                    role: Role::parse(&u.role).unwrap_or(Role::Applicant),
                    organisation_id: u.organisation_id,
                    active: u.active,
                });
            Command::AssignExecutor { name, executor }
        }
        other => other,
    };
    let ctx = engine::Context {
        regulation: &reg,
        regulation_version: current.regulation_version,
        parties: &parties,
        time: &time,
        now,
    };
    let t = engine::decide(&ctx, &record(&current)?, &command, actor).map_err(case_error)?;

    let _writer = match &state.write_lock {
        Some(l) => Some(l.lock().await),
        None => None,
    };
    let txn = crate::store::begin_write(db).await?;
    // Claim the case first: the versioned update takes the row lock, so a racing command (on
    // this node or another) waits here and then fails with CONFLICT before writing anything.
    let claimed = service_case::Entity::update_many()
        .col_expr(
            service_case::Column::Version,
            sea_orm::sea_query::Expr::value(expected_version + 1),
        )
        .filter(service_case::Column::Id.eq(case_id))
        .filter(service_case::Column::Version.eq(expected_version))
        .exec(&txn)
        .await?;
    if claimed.rows_affected != 1 {
        txn.rollback().await?;
        return Err(ApiError::Conflict(
            "the case changed while this command ran".into(),
        ));
    }
    let mut claimed_row = current.clone();
    claimed_row.version = expected_version + 1;
    // `current` is what the claim above found: the version it matched was read with it.
    let written = persist(
        &txn,
        &claimed_row,
        Some(&current),
        &t,
        &parties,
        &actor.name,
        now,
    )
    .await?;
    tell_other_nodes(state, &txn, Some(&current), &written).await?;
    txn.commit().await?;
    Ok(written)
}

/// The answer to a command that expected another version of the case than the current one.
pub fn stale(current: i32, expected: i32) -> ApiError {
    ApiError::Conflict(format!(
        "the case changed: version {current} is current, {expected} was expected"
    ))
}

/// Queues the move for the other nodes in its own transaction (delivered at commit, never for a
/// move rolled back, not lost if this process dies right after committing).
async fn tell_other_nodes(
    state: &AppState,
    txn: &DatabaseTransaction,
    before: Option<&service_case::Model>,
    after: &service_case::Model,
) -> Result<(), ApiError> {
    if !state.fanout.load(std::sync::atomic::Ordering::Relaxed) {
        return Ok(());
    }
    let change = crate::events::CaseChange::of(before, after);
    crate::events::notify_in(txn, &state.node_id, change).await
}

/// Writes a decided transition in the caller's transaction: the case's columns, the step it
/// finished and the one it opened, the applicant's notice (outbox), the event in the chain and
/// the report rollups. Decides nothing.
async fn persist(
    txn: &DatabaseTransaction,
    row: &service_case::Model,
    before: Option<&service_case::Model>,
    t: &Transition,
    parties: &Parties,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<service_case::Model, ApiError> {
    let case_id = row.id;
    let mut seq = 0;
    if let Some(created) = &t.created_step {
        // Intake at the counter or the office happens now: a step started and finished at once.
        seq += 1;
        let mut step = step_row(case_id, seq, created);
        step.risk_at = Set(None);
        if let Some(c) = &t.closed {
            finish(&mut step, c);
        }
        case_step::Entity::insert(step)
            .exec_without_returning(txn)
            .await?;
    } else if let Some(c) = &t.closed {
        // Every open case has exactly one open step: finish it.
        let mut upd = case_step::ActiveModel {
            ..Default::default()
        };
        finish(&mut upd, c);
        let open_seq = case_step::Entity::find()
            .filter(case_step::Column::CaseId.eq(case_id))
            .filter(case_step::Column::FinishedAt.is_null())
            .order_by_desc(case_step::Column::Seq)
            .one(txn)
            .await?
            .map(|s| (s.id, s.seq));
        if let Some((id, s)) = open_seq {
            upd.id = sea_orm::ActiveValue::Unchanged(id);
            case_step::Entity::update(upd).exec(txn).await?;
            seq = s;
        }
    }
    if let Some(opened) = &t.opened {
        seq += 1;
        case_step::Entity::insert(step_row(case_id, seq, opened))
            .exec_without_returning(txn)
            .await?;
    }
    let mut update = service_case::ActiveModel {
        id: sea_orm::ActiveValue::Unchanged(case_id),
        version: Set(row.version),
        updated_at: Set(now),
        ..Default::default()
    };
    write_record(&mut update, &t.case, parties)?;
    // The write happens only if nobody changed the case since it was claimed.
    let written = match service_case::Entity::update(update)
        .validate()?
        .filter(service_case::Column::Version.eq(row.version))
        .exec(txn)
        .await
    {
        Ok(m) => m,
        Err(sea_orm::DbErr::RecordNotUpdated) => {
            return Err(ApiError::Conflict(
                "the case changed while this command ran".into(),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(n) = &t.notice {
        let payload = serde_json::to_value(n).map_err(ApiError::internal)?;
        notify(txn, case_id, written.version, n.kind.as_str(), payload, now).await?;
    }
    append_event(
        txn,
        case_id,
        t.event.kind,
        t.event.payload.clone(),
        actor,
        now,
    )
    .await?;
    if let Some(c) = &t.closed {
        rollup::record_step(txn, &written, c, mailbox_str(c.mailbox)).await?;
    }
    rollup::record(txn, before, &written).await?;
    Ok(written)
}

/// Appends an event whose hash chains to the case's previous event.
pub(crate) async fn append_event(
    txn: &DatabaseTransaction,
    case_id: i64,
    kind: &str,
    payload: serde_json::Value,
    actor: &str,
    at: DateTime<Utc>,
) -> Result<(), ApiError> {
    let last = case_event::Entity::find()
        .filter(case_event::Column::CaseId.eq(case_id))
        .order_by_desc(case_event::Column::Seq)
        .one(txn)
        .await?;
    let (seq, prev) = match last {
        Some(e) => (e.seq + 1, e.hash),
        None => (1, "0".repeat(64)),
    };
    let payload = payload.to_string();
    let hash = event_hash(&prev, case_id, seq, kind, &payload, actor, at);
    let row = case_event::ActiveModel {
        id: sea_orm::ActiveValue::NotSet,
        case_id: Set(case_id),
        seq: Set(seq),
        kind: Set(kind.to_owned()),
        payload: Set(payload),
        actor: Set(actor.to_owned()),
        at: Set(at),
        prev_hash: Set(prev),
        hash: Set(hash),
    };
    case_event::Entity::insert(row)
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

/// The hash of one event: SHA-256 over the previous hash and the event's own fields.
pub fn event_hash(
    prev: &str,
    case_id: i64,
    seq: i32,
    kind: &str,
    payload: &str,
    actor: &str,
    at: DateTime<Utc>,
) -> String {
    content_hash(&format!(
        "{prev}|{case_id}|{seq}|{kind}|{actor}|{}|{payload}",
        at.timestamp_micros()
    ))
}

/// Whether a case's events form an unbroken chain.
pub fn chain_valid(events: &[case_event::Model]) -> bool {
    let mut prev = "0".repeat(64);
    for (i, e) in events.iter().enumerate() {
        let expected = event_hash(&prev, e.case_id, e.seq, &e.kind, &e.payload, &e.actor, e.at);
        if e.seq != i as i32 + 1 || e.prev_hash != prev || e.hash != expected {
            return false;
        }
        prev = e.hash.clone();
    }
    true
}

/// A case by idempotency key.
pub async fn by_idempotency_key(
    db: &impl ConnectionTrait,
    key: &str,
) -> Result<Option<service_case::Model>, ApiError> {
    Ok(service_case::Entity::find()
        .filter(service_case::Column::IdempotencyKey.eq(key))
        .one(db)
        .await?)
}

/// The pinned regulation of a case.
pub async fn pinned(
    state: &AppState,
    c: &service_case::Model,
) -> Result<Arc<Regulation>, ApiError> {
    state
        .regulations
        .get(&state.db, &c.regulation_code, Some(c.regulation_version))
        .await?
        .map(|s| s.regulation)
        .ok_or_else(|| ApiError::internal(std::io::Error::other("pinned regulation missing")))
}

/// Writes an applicant notification in the step's own transaction (the outbox); the delivery
/// worker posts it later, with this idempotency key.
async fn notify(
    txn: &DatabaseTransaction,
    case_id: i64,
    version: i32,
    kind: &str,
    payload: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let row = entity::notification_outbox::ActiveModel {
        id: sea_orm::ActiveValue::NotSet,
        case_id: Set(case_id),
        kind: Set(kind.to_owned()),
        payload: Set(payload.to_string()),
        idempotency_key: Set(format!("qyzmet-case-{case_id}-v{version}-{kind}")),
        created_at: Set(now),
        attempts: Set(0),
        next_attempt_at: Set(now),
        delivered_at: Set(None),
        last_error: Set(None),
    };
    entity::notification_outbox::Entity::insert(row)
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

/// Every event of a case, in order.
pub async fn events(
    db: &impl ConnectionTrait,
    case_id: i64,
) -> Result<Vec<case_event::Model>, ApiError> {
    Ok(case_event::Entity::find()
        .filter(case_event::Column::CaseId.eq(case_id))
        .order_by_asc(case_event::Column::Seq)
        .all(db)
        .await?)
}

/// Convenience for callers holding a connection, not a transaction.
pub async fn find(
    db: &DatabaseConnection,
    id: i64,
) -> Result<Option<service_case::Model>, ApiError> {
    Ok(service_case::Entity::find_by_id(id).one(db).await?)
}

/// A case by its registration number.
pub async fn find_by_number(
    db: &DatabaseConnection,
    number: &str,
) -> Result<Option<service_case::Model>, ApiError> {
    Ok(service_case::Entity::find()
        .filter(service_case::Column::Number.eq(number))
        .one(db)
        .await?)
}
