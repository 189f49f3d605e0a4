//! Cases in storage. Every change is one transaction: the case row updated only if its version
//! is the expected one, the step rows, and an append-only event whose hash chains to the
//! previous event of the case.

use std::sync::Arc;

use chrono::{DateTime, Months, Utc};
use chrono_tz::Tz;
use domain::calendar::WorkingCalendar;
use domain::case::{self, Attributes, CaseState, CaseStatus, Holder, Move, Stage, Stop};
use domain::deadline::{Intake, WorkingClock, WorkingHours};
use domain::regulation::{Channel, DurationSpec, Mailbox, Regulation};
use entity::{app_user, case_event, case_step, organisation, service_case};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, QueryFilter, QueryOrder, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::calendar::{content_hash, is_unique_violation};
use crate::store::regulation::StoredRegulation;
use crate::store::rollup;

/// Who acted.
#[derive(Clone, Debug)]
pub struct Actor {
    /// The staff user, if a staff user acted.
    pub user_id: Option<i64>,
    /// A name for the history: a username, or `applicant:ID`.
    pub name: String,
}

/// A submitted document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    /// What it is, e.g. "birth certificate".
    pub name: String,
    /// Whether it was handed in.
    pub provided: bool,
    /// Whether it has expired.
    pub expired: bool,
}

/// The applicant as written on the application.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicantData {
    /// IIN (already checked).
    pub iin: String,
    /// Full name.
    pub full_name: String,
    /// Phone, if given.
    pub phone: Option<String>,
    /// E-mail, if given.
    pub email: Option<String>,
}

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
    /// The applicant.
    pub applicant: ApplicantData,
    /// The applicant's account, for portal submissions.
    pub applicant_id: Option<i64>,
    /// The documents.
    pub documents: Vec<Document>,
    /// Attributes the regulation may depend on (e.g. `location`).
    pub attributes: Attributes,
    /// Which acceptance window governs it (e.g. `first_grade`).
    pub applies_to: Option<String>,
    /// A client-supplied key: a retried request returns the same case.
    pub idempotency_key: Option<String>,
    /// Who registers it.
    pub actor: Actor,
}

/// A command with what it carries.
#[derive(Clone, Debug)]
pub enum CaseCommand {
    /// Register (or refuse) a submitted or delivered application.
    CompleteIntake {
        /// Documents missing.
        missing: Vec<String>,
        /// Documents expired.
        expired: Vec<String>,
    },
    /// Assign an executor (username).
    AssignExecutor(String),
    /// Prepare the result, or a reasoned refusal when grounds are given.
    Prepare {
        /// Grounds of a reasoned refusal.
        refusal_grounds: Option<String>,
        /// What was prepared.
        note: Option<String>,
    },
    /// Sign.
    Sign,
    /// Return to the executor with a comment.
    ReturnToExecutor(String),
    /// Issue (or hand to the courier).
    Issue,
    /// Courier delivered the documents.
    DeliverToProvider,
    /// The result arrived at the State Corporation.
    ReceiveResult,
    /// Issued at the counter.
    IssueAtCorporation,
    /// Uncollected: back to the provider.
    ReturnUncollected,
    /// Ask the provider for the stored result.
    RequestRedelivery,
    /// Send the stored result back.
    Redeliver,
}

impl CaseCommand {
    fn domain(&self) -> case::Command {
        match self {
            CaseCommand::CompleteIntake { missing, expired } => case::Command::CompleteIntake {
                complete: missing.is_empty() && expired.is_empty(),
            },
            CaseCommand::AssignExecutor(_) => case::Command::AssignExecutor,
            CaseCommand::Prepare {
                refusal_grounds, ..
            } => case::Command::Prepare {
                refusal: refusal_grounds.is_some(),
            },
            CaseCommand::Sign => case::Command::Sign,
            CaseCommand::ReturnToExecutor(_) => case::Command::ReturnToExecutor,
            CaseCommand::Issue => case::Command::Issue,
            CaseCommand::DeliverToProvider => case::Command::DeliverToProvider,
            CaseCommand::ReceiveResult => case::Command::ReceiveResult,
            CaseCommand::IssueAtCorporation => case::Command::IssueAtCorporation,
            CaseCommand::ReturnUncollected => case::Command::ReturnUncollected,
            CaseCommand::RequestRedelivery => case::Command::RequestRedelivery,
            CaseCommand::Redeliver => case::Command::Redeliver,
        }
    }
}

/// A placeholder due for stops without a legal due (storage at the provider), so inbox
/// ordering and its index never meet NULL.
pub fn far_future() -> DateTime<Utc> {
    DateTime::from_timestamp(253_402_214_400, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn rule(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::Rule {
        code,
        message: message.into(),
    }
}

fn case_error(e: case::CaseError) -> ApiError {
    rule(e.code(), e.to_string())
}

fn deadline_error(e: domain::deadline::DeadlineError) -> ApiError {
    rule(e.code(), e.to_string())
}

/// Channel names as stored.
pub fn channel_str(c: Channel) -> &'static str {
    match c {
        Channel::ProviderOffice => "PROVIDER_OFFICE",
        Channel::StateCorporation => "STATE_CORPORATION",
        Channel::Portal => "PORTAL",
    }
}

/// Parses a stored channel.
pub fn parse_channel(s: &str) -> Option<Channel> {
    [
        Channel::ProviderOffice,
        Channel::StateCorporation,
        Channel::Portal,
    ]
    .into_iter()
    .find(|c| channel_str(*c) == s)
}

/// Mailbox names as stored.
pub fn mailbox_str(m: Mailbox) -> &'static str {
    match m {
        Mailbox::Office => "OFFICE",
        Mailbox::Head => "HEAD",
        Mailbox::Executor => "EXECUTOR",
        Mailbox::Corporation => "CORPORATION",
    }
}

/// Parses a stored mailbox.
pub fn parse_mailbox(s: &str) -> Option<Mailbox> {
    [
        Mailbox::Office,
        Mailbox::Head,
        Mailbox::Executor,
        Mailbox::Corporation,
    ]
    .into_iter()
    .find(|m| mailbox_str(*m) == s)
}

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

struct Clocks<'a> {
    provider: WorkingClock<'a>,
    corporation: Option<WorkingClock<'a>>,
    provider_id: i64,
    corporation_id: Option<i64>,
}

impl Clocks<'_> {
    fn of(&self, holder: Holder) -> Result<(&WorkingClock<'_>, i64), ApiError> {
        match holder {
            Holder::Provider => Ok((&self.provider, self.provider_id)),
            Holder::Corporation => match (&self.corporation, self.corporation_id) {
                (Some(c), Some(id)) => Ok((c, id)),
                _ => Err(rule(
                    "INVALID_TRANSITION",
                    "this case has no State Corporation branch",
                )),
            },
        }
    }

    fn due(
        &self,
        holder: Holder,
        start: DateTime<Utc>,
        d: Option<DurationSpec>,
    ) -> Result<Option<DateTime<Utc>>, ApiError> {
        let Some(d) = d else { return Ok(None) };
        let (clock, _) = self.of(holder)?;
        clock
            .deadline(start, d.legal())
            .map(|due| Some(due.at))
            .map_err(deadline_error)
    }

    fn allowed_minutes(
        &self,
        holder: Holder,
        start: DateTime<Utc>,
        due: Option<DateTime<Utc>>,
    ) -> Option<i64> {
        let (clock, _) = self.of(holder).ok()?;
        let due = due?;
        clock
            .elapsed(start, due)
            .ok()
            .map(|e| e.working_minutes as i64)
    }

    /// When a step started at `start` will have used 80% of its allowed working time.
    fn risk_at(
        &self,
        holder: Holder,
        start: DateTime<Utc>,
        allowed: Option<i64>,
    ) -> Option<DateTime<Utc>> {
        let (clock, _) = self.of(holder).ok()?;
        let minutes = u32::try_from((allowed? * 4 + 4) / 5).ok()?;
        if minutes == 0 {
            return Some(start);
        }
        let d =
            domain::deadline::LegalDuration::new(minutes, domain::deadline::DurationUnit::Minutes)
                .ok()?;
        clock.deadline(start, d).ok().map(|due| due.at)
    }
}

async fn load_orgs(
    db: &impl ConnectionTrait,
    provider_id: i64,
    corporation_id: Option<i64>,
) -> Result<(organisation::Model, Option<organisation::Model>), ApiError> {
    let provider = organisation::Entity::find_by_id(provider_id)
        .one(db)
        .await?
        .ok_or_else(|| ApiError::internal(std::io::Error::other("case provider missing")))?;
    let corporation = match corporation_id {
        Some(id) => organisation::Entity::find_by_id(id).one(db).await?,
        None => None,
    };
    Ok((provider, corporation))
}

fn clocks<'a>(
    state: &AppState,
    calendar: &'a WorkingCalendar,
    provider: &organisation::Model,
    corporation: Option<&organisation::Model>,
) -> Result<Clocks<'a>, ApiError> {
    let (ph, ptz) = hours_and_zone(state, provider)?;
    let corp = match corporation {
        Some(c) => {
            let (h, tz) = hours_and_zone(state, c)?;
            Some(WorkingClock::new(calendar, h, tz))
        }
        None => None,
    };
    Ok(Clocks {
        provider: WorkingClock::new(calendar, ph, ptz),
        corporation: corp,
        provider_id: provider.id,
        corporation_id: corporation.map(|c| c.id),
    })
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

#[allow(clippy::too_many_arguments)]
async fn insert_step(
    txn: &DatabaseTransaction,
    case_id: i64,
    seq: i32,
    stop: &Stop,
    org_id: i64,
    started: DateTime<Utc>,
    due: Option<DateTime<Utc>>,
    allowed: Option<i64>,
    risk_at: Option<DateTime<Utc>>,
) -> Result<(), ApiError> {
    let row = case_step::ActiveModel {
        id: sea_orm::ActiveValue::NotSet,
        case_id: Set(case_id),
        seq: Set(seq),
        stage: Set(stop.stage.as_str().to_owned()),
        step_order: Set(stop.step_order.map(|o| o as i32)),
        leg: Set(stop.leg.map(str::to_owned)),
        mailbox: Set(mailbox_str(stop.mailbox).to_owned()),
        organisation_id: Set(org_id),
        actor_id: Set(None),
        actor_name: Set(None),
        started_at: Set(started),
        due_at: Set(due),
        allowed_minutes: Set(allowed),
        finished_at: Set(None),
        on_time: Set(None),
        outcome: Set(None),
        comment: Set(None),
        used_minutes: Set(None),
        risk_at: Set(risk_at),
        risk_announced_at: Set(None),
        overdue_announced_at: Set(None),
    };
    case_step::Entity::insert(row)
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

/// The provider's own deadline to hand a State Corporation case's result over.
type ProviderDue = DateTime<Utc>;

/// The legal result date: the stated term, or where the act states none, the due time of the
/// last provider stop when every stop takes its full time.
fn legal_term(
    reg: &Regulation,
    stops: &[Stop],
    clocks: &Clocks<'_>,
    channel: Channel,
    registered: DateTime<Utc>,
) -> Result<(Option<DateTime<Utc>>, Option<ProviderDue>), ApiError> {
    let intake = if channel == Channel::StateCorporation {
        Intake::StateCorporation
    } else {
        Intake::Provider
    };
    if let Some(t) = &reg.legal_term {
        let d = domain::deadline::LegalDuration::new(t.value, t.unit).map_err(deadline_error)?;
        let term = clocks
            .provider
            .case_term(registered, d, intake)
            .map_err(deadline_error)?;
        return Ok((Some(term.due.at), term.provider_due.map(|p| p.at)));
    }
    let mut at = registered;
    for s in stops {
        if let Some(d) = s.duration {
            let (clock, _) = clocks.of(s.holder)?;
            at = clock.deadline(at, d.legal()).map_err(deadline_error)?.at;
        }
    }
    Ok((Some(at), None))
}

/// Creates a case. Returns the case and whether it was created now (false: the idempotency key
/// names an existing case, which is returned unchanged).
pub async fn create(
    state: &AppState,
    new: NewCase,
) -> Result<(service_case::Model, bool), ApiError> {
    let now = state.clock.now();
    let db = &state.db;
    if let Some(key) = &new.idempotency_key {
        if let Some(existing) = by_idempotency_key(db, key).await? {
            return Ok((existing, false));
        }
    }
    let reg = new.regulation.regulation.clone();
    let calendar = state.calendar.current();
    let clocks = clocks(state, &calendar, &new.provider, new.corporation.as_ref())?;

    // The acceptance window, on the provider's local date.
    let tz = hours_and_zone(state, &new.provider)?.1;
    let local_date = now.with_timezone(&tz).date_naive();
    if !reg.window_open(local_date, new.applies_to.as_deref()) {
        return Err(rule(
            "OUTSIDE_ACCEPTANCE_WINDOW",
            format!("{} does not accept applications on {local_date}", reg.code),
        ));
    }
    let creation = case::creation_stop(&reg, new.channel, &new.attributes).map_err(case_error)?;
    let stops = case::route(&reg, new.channel, &new.attributes).map_err(case_error)?;
    let missing: Vec<&str> = new
        .documents
        .iter()
        .filter(|d| !d.provided)
        .map(|d| d.name.as_str())
        .collect();
    let expired: Vec<&str> = new
        .documents
        .iter()
        .filter(|d| d.expired)
        .map(|d| d.name.as_str())
        .collect();
    // A portal submission is checked by the office later; at a counter, at once.
    let refused = creation.is_some() && (!missing.is_empty() || !expired.is_empty());

    let (term_due, provider_due) = if refused {
        (None, None)
    } else {
        legal_term(&reg, &stops, &clocks, new.channel, now)?
    };
    let attributes = serde_json::to_string(&new.attributes).map_err(ApiError::internal)?;
    let documents = serde_json::to_string(&new.documents).map_err(ApiError::internal)?;
    let contacts = serde_json::to_string(
        &json!({ "phone": new.applicant.phone, "email": new.applicant.email }),
    )
    .map_err(ApiError::internal)?;

    let _writer = match &state.write_lock {
        Some(l) => Some(l.lock().await),
        None => None,
    };
    let txn = db.begin().await?;
    let row = service_case::ActiveModel {
        id: sea_orm::ActiveValue::NotSet,
        number: Set(format!("pending-{}", crate::auth::token::random_hex(8)?)),
        regulation_id: Set(new.regulation.row.id),
        regulation_code: Set(reg.code.clone()),
        regulation_version: Set(new.regulation.row.version),
        service_code: Set(reg.service.clone()),
        region_code: Set(new.provider.region_code.clone()),
        provider_id: Set(new.provider.id),
        corporation_id: Set(new.corporation.as_ref().map(|c| c.id)),
        channel: Set(channel_str(new.channel).to_owned()),
        status: Set(CaseStatus::Submitted.as_str().to_owned()),
        stage: Set(Stage::Intake.as_str().to_owned()),
        route_index: Set(None),
        current_mailbox: Set(None),
        current_org_id: Set(None),
        assignee_id: Set(None),
        applicant_iin: Set(new.applicant.iin.clone()),
        applicant_name: Set(new.applicant.full_name.clone()),
        applicant_contacts: Set(contacts),
        applicant_id: Set(new.applicant_id),
        attributes: Set(attributes),
        documents: Set(documents),
        receipt: Set(None),
        result: Set(None),
        refusal: Set(None),
        refusal_prepared: Set(false),
        registered_at: Set(now),
        term_due_at: Set(term_due),
        provider_due_at: Set(provider_due),
        step_started_at: Set(None),
        step_due_at: Set(None),
        storage_due_at: Set(None),
        calendar_version: Set(calendar.version() as i32),
        idempotency_key: Set(new.idempotency_key.clone()),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        closed_at: Set(None),
        result_at: Set(None),
        result_on_time: Set(None),
        result_working_days: Set(None),
        returned_unclaimed: Set(false),
    };
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
            return Ok((existing, false));
        }
        Err(e) => return Err(e.into()),
    };
    let id = inserted.id;
    let region_num = state
        .regions
        .get(&new.provider.region_code)
        .map(|r| r.iso_code.replace('-', ""))
        .unwrap_or_else(|| "KZ".into());
    let number = format!(
        "{region_num}-{}-{id:07}",
        now.with_timezone(&tz).format("%Y%m%d")
    );
    let legal_date = term_due.map(|t| t.with_timezone(&tz).to_rfc3339());

    let mut seq = 0;
    let mut update = service_case::ActiveModel {
        id: sea_orm::ActiveValue::Unchanged(id),
        number: Set(number.clone()),
        ..Default::default()
    };
    if let Some(stop) = &creation {
        // Intake at the counter or the office happens now: a step started and finished at once.
        let (_, org_id) = clocks.of(stop.holder)?;
        let due = clocks.due(stop.holder, now, stop.duration)?;
        seq += 1;
        insert_step(
            &txn,
            id,
            seq,
            stop,
            org_id,
            now,
            due,
            clocks.allowed_minutes(stop.holder, now, due),
            None,
        )
        .await?;
        finish_open_step(
            &txn,
            &clocks,
            &inserted,
            &new.actor,
            now,
            if refused {
                "REFUSED_AT_INTAKE"
            } else {
                "ACCEPTED"
            },
            None,
        )
        .await?;
    }
    let receipt = json!({
        "number": number,
        "regulation": reg.code,
        "regulationVersion": new.regulation.row.version,
        "service": reg.name_kk,
        "applicant": new.applicant.full_name,
        "iin": new.applicant.iin,
        "documents": new.documents.iter().filter(|d| d.provided).map(|d| d.name.clone()).collect::<Vec<_>>(),
        "legalResultDate": legal_date,
        "acceptedAt": now.with_timezone(&tz).to_rfc3339(),
        "acceptedBy": new.actor.name,
    });
    let event_kind;
    if refused {
        let refusal = json!({
            "kind": "INTAKE_REFUSAL",
            "missing": missing,
            "expired": expired,
            "issuedAt": now.with_timezone(&tz).to_rfc3339(),
            "issuedBy": new.actor.name,
        });
        update.status = Set(CaseStatus::RefusedAtIntake.as_str().to_owned());
        update.stage = Set(Stage::Closed.as_str().to_owned());
        update.refusal = Set(Some(refusal.to_string()));
        update.closed_at = Set(Some(now));
        event_kind = "REFUSED_AT_INTAKE";
    } else {
        if creation.is_some() {
            update.receipt = Set(Some(receipt.to_string()));
        }
        match stops.first() {
            Some(first) => {
                let (_, org_id) = clocks.of(first.holder)?;
                let due = clocks.due(first.holder, now, first.duration)?;
                seq += 1;
                insert_step(
                    &txn,
                    id,
                    seq,
                    first,
                    org_id,
                    now,
                    due,
                    clocks.allowed_minutes(first.holder, now, due),
                    clocks.risk_at(
                        first.holder,
                        now,
                        clocks.allowed_minutes(first.holder, now, due),
                    ),
                )
                .await?;
                update.status = Set(if creation.is_some() {
                    case::status_at(first)
                } else {
                    CaseStatus::Submitted
                }
                .as_str()
                .to_owned());
                update.stage = Set(first.stage.as_str().to_owned());
                update.route_index = Set(Some(0));
                update.current_mailbox = Set(Some(mailbox_str(first.mailbox).to_owned()));
                update.current_org_id = Set(Some(org_id));
                update.step_started_at = Set(Some(now));
                update.step_due_at = Set(Some(due.unwrap_or_else(far_future)));
            }
            None => {
                // A one-step regulation: the receipt is the result.
                update.status = Set(CaseStatus::Completed.as_str().to_owned());
                update.stage = Set(Stage::Closed.as_str().to_owned());
                update.result = Set(Some(json!({ "kind": "RECEIPT", "documents": ["receipt"], "issuedAt": now.to_rfc3339(), "issuedBy": new.actor.name }).to_string()));
                update.closed_at = Set(Some(now));
                update.result_at = Set(Some(now));
                update.result_on_time = Set(Some(true));
                update.result_working_days = Set(Some(0.0));
            }
        }
        event_kind = match new.channel {
            Channel::Portal => "SUBMITTED",
            Channel::StateCorporation => "ACCEPTED_AT_CORPORATION",
            Channel::ProviderOffice => "REGISTERED",
        };
    }
    let updated = service_case::Entity::update(update).exec(&txn).await?;
    let note = applicant_note(&updated, tz);
    match (refused, new.channel) {
        (true, _) => notify(&txn, id, updated.version, "REFUSED", note, now).await?,
        (false, Channel::Portal) => {}
        (false, _) => notify(&txn, id, updated.version, "REGISTERED", note, now).await?,
    }
    append_event(
        &txn,
        id,
        event_kind,
        json!({ "channel": channel_str(new.channel), "regulation": reg.code, "version": new.regulation.row.version,
                "missing": missing, "expired": expired, "termDue": term_due.map(|t| t.to_rfc3339()) }),
        &new.actor.name,
        now,
    )
    .await?;
    rollup::record(&txn, None, &updated).await?;
    txn.commit().await?;
    Ok((updated, true))
}

async fn finish_open_step(
    txn: &DatabaseTransaction,
    clocks: &Clocks<'_>,
    case: &service_case::Model,
    actor: &Actor,
    now: DateTime<Utc>,
    outcome: &str,
    comment: Option<String>,
) -> Result<Option<case_step::Model>, ApiError> {
    let open = case_step::Entity::find()
        .filter(case_step::Column::CaseId.eq(case.id))
        .filter(case_step::Column::FinishedAt.is_null())
        .order_by_desc(case_step::Column::Seq)
        .one(txn)
        .await?;
    let Some(open) = open else { return Ok(None) };
    let on_time = open.due_at.map(|d| now <= d);
    let holder =
        if Some(open.organisation_id) == clocks.corporation_id && open.mailbox == "CORPORATION" {
            Holder::Corporation
        } else {
            Holder::Provider
        };
    let used = clocks
        .of(holder)
        .ok()
        .and_then(|(c, _)| c.elapsed(open.started_at, now).ok())
        .map(|e| e.working_minutes as i64);
    let mut a: case_step::ActiveModel = open.into();
    a.used_minutes = Set(used);
    a.finished_at = Set(Some(now));
    a.on_time = Set(Some(on_time.unwrap_or(true)));
    a.outcome = Set(Some(outcome.to_owned()));
    a.actor_id = Set(actor.user_id);
    a.actor_name = Set(Some(actor.name.clone()));
    a.comment = Set(comment);
    let finished = case_step::Entity::update(a).exec(txn).await?;
    rollup::record_step(txn, case, &finished).await?;
    Ok(Some(finished))
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

/// The decision state of a stored case.
fn case_state(c: &service_case::Model) -> Result<CaseState, ApiError> {
    let bad = |what: &str| {
        ApiError::internal(std::io::Error::other(format!(
            "stored case has a bad {what}"
        )))
    };
    Ok(CaseState {
        channel: parse_channel(&c.channel).ok_or_else(|| bad("channel"))?,
        status: CaseStatus::parse(&c.status).ok_or_else(|| bad("status"))?,
        stage: Stage::parse(&c.stage).ok_or_else(|| bad("stage"))?,
        route_index: c.route_index.and_then(|i| usize::try_from(i).ok()),
        refusal_prepared: c.refusal_prepared,
        storage_due: c.storage_due_at,
    })
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

/// The attributes of a case.
pub fn attributes(c: &service_case::Model) -> Attributes {
    serde_json::from_str(&c.attributes).unwrap_or_default()
}

/// Applies a command to a case at its expected version, in one transaction. `CONFLICT` when
/// the case changed since `expected_version` (nothing is written).
pub async fn apply(
    state: &AppState,
    case_id: i64,
    expected_version: i32,
    command: &CaseCommand,
    actor: &Actor,
) -> Result<service_case::Model, ApiError> {
    let now = state.clock.now();
    let db = &state.db;
    let current = service_case::Entity::find_by_id(case_id)
        .one(db)
        .await?
        .ok_or_else(|| ApiError::NotFound("no such case".into()))?;
    if current.version != expected_version {
        return Err(ApiError::Conflict(format!(
            "the case changed: version {} is current, {expected_version} was expected",
            current.version
        )));
    }
    let reg = pinned(state, &current).await?;
    let attrs = attributes(&current);
    let st = case_state(&current)?;
    let stops = case::route(&reg, st.channel, &attrs).map_err(case_error)?;
    let mv = case::decide(&stops, &st, &command.domain(), now).map_err(case_error)?;
    let calendar = state.calendar.current();
    let (provider, corporation) =
        load_orgs(db, current.provider_id, current.corporation_id).await?;
    let clocks = clocks(state, &calendar, &provider, corporation.as_ref())?;
    let tz = hours_and_zone(state, &provider)?.1;

    let _writer = match &state.write_lock {
        Some(l) => Some(l.lock().await),
        None => None,
    };
    let txn = db.begin().await?;
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
    let mut update = service_case::ActiveModel {
        id: sea_orm::ActiveValue::Unchanged(case_id),
        version: Set(expected_version + 1),
        updated_at: Set(now),
        ..Default::default()
    };
    let mut payload = json!({ "command": command.domain().name(), "from": st.stage.as_str() });
    let (outcome, comment): (&str, Option<String>) = match command {
        CaseCommand::CompleteIntake { missing, expired } => {
            if missing.is_empty() && expired.is_empty() {
                let receipt = json!({
                    "number": current.number, "regulation": reg.code, "regulationVersion": current.regulation_version,
                    "service": reg.name_kk, "applicant": current.applicant_name, "iin": current.applicant_iin,
                    "legalResultDate": current.term_due_at.map(|t| t.with_timezone(&tz).to_rfc3339()),
                    "acceptedAt": now.with_timezone(&tz).to_rfc3339(), "acceptedBy": actor.name,
                });
                update.receipt = Set(Some(receipt.to_string()));
                ("ACCEPTED", None)
            } else {
                let refusal = json!({ "kind": "INTAKE_REFUSAL", "missing": missing, "expired": expired,
                    "issuedAt": now.with_timezone(&tz).to_rfc3339(), "issuedBy": actor.name });
                update.refusal = Set(Some(refusal.to_string()));
                payload["missing"] = json!(missing);
                payload["expired"] = json!(expired);
                ("REFUSED_AT_INTAKE", None)
            }
        }
        CaseCommand::AssignExecutor(username) => {
            let executor = app_user::Entity::find()
                .filter(app_user::Column::Username.eq(username.as_str()))
                .one(&txn)
                .await?
                .filter(|u| {
                    u.active
                        && u.role == "EXECUTOR"
                        && u.organisation_id == Some(current.provider_id)
                })
                .ok_or_else(|| {
                    ApiError::BadUserInput(format!(
                        "{username:?} is not an active executor of this case's provider"
                    ))
                })?;
            update.assignee_id = Set(Some(executor.id));
            payload["executor"] = json!(executor.username);
            ("ASSIGNED", None)
        }
        CaseCommand::Prepare {
            refusal_grounds,
            note,
        } => {
            if current.assignee_id != actor.user_id {
                return Err(ApiError::Forbidden);
            }
            update.refusal_prepared = Set(refusal_grounds.is_some());
            match refusal_grounds {
                Some(g) => {
                    update.refusal = Set(Some(json!({ "kind": "REASONED_REFUSAL", "grounds": g, "preparedBy": actor.name }).to_string()));
                    payload["refusal"] = json!(g);
                    ("REASONED_REFUSAL_PREPARED", note.clone())
                }
                None => {
                    update.refusal = Set(None);
                    ("RESULT_PREPARED", note.clone())
                }
            }
        }
        CaseCommand::Sign => {
            payload["signedBy"] = json!(actor.name);
            let mut result = match (&current.refusal, current.refusal_prepared) {
                (Some(r), true) => serde_json::from_str(r).unwrap_or_else(|_| json!({})),
                _ => json!({
                    "kind": "RESULT",
                    "documents": reg.steps.iter().flat_map(|s| s.issues.clone()).filter(|d| d != "receipt").collect::<Vec<_>>(),
                }),
            };
            result["signedBy"] = json!(actor.name);
            result["signedAt"] = json!(now.to_rfc3339());
            if current.refusal_prepared {
                update.refusal = Set(Some(result.to_string()));
            } else {
                update.result = Set(Some(result.to_string()));
            }
            ("SIGNED", None)
        }
        CaseCommand::ReturnToExecutor(c) => {
            if c.trim().is_empty() {
                return Err(ApiError::BadUserInput(
                    "a comment is required when returning to the executor".into(),
                ));
            }
            payload["comment"] = json!(c);
            ("RETURNED", Some(c.clone()))
        }
        CaseCommand::Issue => ("ISSUED", None),
        CaseCommand::DeliverToProvider => ("DELIVERED", None),
        CaseCommand::ReceiveResult => ("RECEIVED", None),
        CaseCommand::IssueAtCorporation => ("ISSUED", None),
        CaseCommand::ReturnUncollected => ("RETURNED_UNCOLLECTED", None),
        CaseCommand::RequestRedelivery => ("REQUESTED", None),
        CaseCommand::Redeliver => ("REDELIVERED", None),
    };
    let finished = finish_open_step(&txn, &clocks, &current, actor, now, outcome, comment).await?;
    // The result reaches the applicant's channel: issued at the office or on the portal, or
    // arrived at the State Corporation counter (the first time; a redelivery is not a result).
    let delivered = match (&mv, command) {
        (Move::Close(_), CaseCommand::Issue) => true,
        (Move::To(i), _) => {
            stops[*i].stage == Stage::CorporationIssue && current.result_at.is_none()
        }
        _ => false,
    };
    if delivered {
        update.result_at = Set(Some(now));
        update.result_on_time = Set(Some(current.term_due_at.is_none_or(|t| now <= t)));
        update.result_working_days = Set(clocks
            .provider
            .elapsed(current.registered_at, now)
            .ok()
            .map(|e| e.working_days));
    }
    if matches!(mv, Move::Storage) {
        update.returned_unclaimed = Set(true);
    }
    // Every open case has exactly one open step; the next one follows it.
    let next_seq = finished.map_or(1, |s| s.seq + 1);

    let storage_end = |from: DateTime<Utc>| {
        from.checked_add_months(Months::new(case::storage_months(&reg)))
            .unwrap_or(from)
    };
    let mut enter = |stop: &Stop,
                     status: CaseStatus,
                     index: Option<usize>|
     -> Result<(Stop, i64, Option<DateTime<Utc>>), ApiError> {
        let (_, org_id) = clocks.of(stop.holder)?;
        let due = if stop.stage == Stage::CorporationIssue {
            Some(storage_end(now))
        } else {
            clocks.due(stop.holder, now, stop.duration)?
        };
        update.status = Set(status.as_str().to_owned());
        update.stage = Set(stop.stage.as_str().to_owned());
        update.route_index = Set(index.map(|i| i as i32));
        update.current_mailbox = Set(Some(mailbox_str(stop.mailbox).to_owned()));
        update.current_org_id = Set(Some(org_id));
        update.step_started_at = Set(Some(now));
        update.step_due_at = Set(Some(due.unwrap_or_else(far_future)));
        update.storage_due_at = Set(if stop.stage == Stage::CorporationIssue {
            due
        } else {
            None
        });
        Ok((stop.clone(), org_id, due))
    };
    let entered = match &mv {
        Move::To(i) => {
            let stop = &stops[*i];
            Some(enter(stop, case::status_at(stop), Some(*i))?)
        }
        Move::Close(status) => {
            update.status = Set(status.as_str().to_owned());
            update.stage = Set(Stage::Closed.as_str().to_owned());
            update.route_index = Set(None);
            update.current_mailbox = Set(None);
            update.current_org_id = Set(None);
            update.step_due_at = Set(None);
            update.storage_due_at = Set(None);
            update.closed_at = Set(Some(now));
            payload["closed"] = json!(status.as_str());
            None
        }
        Move::Storage => {
            let stop = Stop {
                stage: Stage::ProviderStorage,
                mailbox: Mailbox::Office,
                holder: Holder::Provider,
                duration: None,
                step_order: None,
                leg: Some("return_to_provider"),
            };
            Some(enter(&stop, CaseStatus::ReturnedUnclaimed, None)?)
        }
        Move::Redelivery => {
            let legs = reg.corporation.as_ref().map(|c| c.redelivery.duration());
            let stop = Stop {
                stage: Stage::Redelivery,
                mailbox: Mailbox::Office,
                holder: Holder::Provider,
                duration: legs,
                step_order: None,
                leg: Some("redelivery"),
            };
            Some(enter(&stop, CaseStatus::Redelivery, None)?)
        }
        Move::Counter => {
            let index = stops
                .iter()
                .position(|s| s.stage == Stage::CorporationIssue);
            let stop = index.map(|i| stops[i].clone()).ok_or_else(|| {
                rule(
                    "INVALID_TRANSITION",
                    "this case has no State Corporation counter",
                )
            })?;
            Some(enter(&stop, CaseStatus::ResultReady, index)?)
        }
    };
    if let Some((stop, org_id, due)) = &entered {
        insert_step(
            &txn,
            case_id,
            next_seq,
            stop,
            *org_id,
            now,
            *due,
            clocks.allowed_minutes(stop.holder, now, *due),
            clocks.risk_at(
                stop.holder,
                now,
                clocks.allowed_minutes(stop.holder, now, *due),
            ),
        )
        .await?;
        payload["to"] = json!(stop.stage.as_str());
        payload["due"] = json!(due.map(|d| d.to_rfc3339()));
    }
    // The write happens only if nobody changed the case since it was read.
    let written = match service_case::Entity::update(update)
        .validate()?
        .filter(service_case::Column::Version.eq(expected_version + 1))
        .exec(&txn)
        .await
    {
        Ok(m) => m,
        Err(sea_orm::DbErr::RecordNotUpdated) => {
            txn.rollback().await?;
            return Err(ApiError::Conflict(
                "the case changed while this command ran".into(),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    // What the applicant hears about, written with the move itself.
    let note = applicant_note(&written, tz);
    let heard = match (command, &mv) {
        (CaseCommand::CompleteIntake { .. }, Move::Close(_)) => Some("REFUSED"),
        (CaseCommand::CompleteIntake { .. }, _) => Some("REGISTERED"),
        (_, Move::Storage) => Some("RETURNED_TO_PROVIDER"),
        _ if delivered && written.refusal_prepared => Some("REFUSED"),
        _ if delivered => Some("RESULT_READY"),
        _ => None,
    };
    if let Some(kind) = heard {
        notify(&txn, case_id, written.version, kind, note, now).await?;
    }
    append_event(
        &txn,
        case_id,
        command.domain().name(),
        payload,
        &actor.name,
        now,
    )
    .await?;
    // `current` is what the claim above found: the version it matched was read with it.
    rollup::record(&txn, Some(&current), &written).await?;
    txn.commit().await?;
    Ok(written)
}

/// What a notification tells the applicant about their case.
fn applicant_note(c: &service_case::Model, tz: Tz) -> serde_json::Value {
    json!({ "number": c.number, "iin": c.applicant_iin, "status": c.status,
        "legalResultDate": c.term_due_at.map(|t| t.with_timezone(&tz).to_rfc3339()) })
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

/// Every step of a case, in order.
pub async fn timeline(
    db: &impl ConnectionTrait,
    case_id: i64,
) -> Result<Vec<case_step::Model>, ApiError> {
    Ok(case_step::Entity::find()
        .filter(case_step::Column::CaseId.eq(case_id))
        .order_by_asc(case_step::Column::Seq)
        .all(db)
        .await?)
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
