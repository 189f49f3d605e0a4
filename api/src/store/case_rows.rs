//! How a case is stored: the engine's record of a case and the row's columns, both ways; the
//! step rows a transition opens and finishes; the stored names of channels and mailboxes.

use chrono::{DateTime, Utc};
use domain::case::{Attributes, CaseStatus, Holder, Stage};
use domain::engine::{
    self, Applicant, CaseRecord, Delivery, OpenedStep, Parties, Place, SubmittedDocument,
};
use domain::regulation::{Channel, Mailbox};
use entity::{case_step, organisation, service_case};
use sea_orm::ActiveValue::Set;
use serde::{Deserialize, Serialize};

use crate::error::{case_error, ApiError};
use crate::store::regulation::StoredRegulation;

/// The applicant's contacts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contacts {
    /// Phone.
    pub phone: Option<String>,
    /// E-mail.
    pub email: Option<String>,
}

/// A placeholder due for stops without a legal due (storage at the provider), so inbox
/// ordering and its index never meet NULL.
pub fn far_future() -> DateTime<Utc> {
    DateTime::from_timestamp(253_402_214_400, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
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

fn bad_row(what: &str) -> ApiError {
    ApiError::internal(std::io::Error::other(format!(
        "stored case has a bad {what}"
    )))
}

fn parse_json<T: serde::de::DeserializeOwned>(
    text: &Option<String>,
    what: &str,
) -> Result<Option<T>, ApiError> {
    text.as_deref()
        .map(|t| serde_json::from_str(t).map_err(|_| bad_row(what)))
        .transpose()
}

fn text<T: Serialize>(v: &T) -> Result<String, ApiError> {
    serde_json::to_string(v).map_err(ApiError::internal)
}

fn to_json<T: Serialize>(v: &Option<T>) -> Result<Option<String>, ApiError> {
    v.as_ref()
        .map(|x| serde_json::to_string(x).map_err(ApiError::internal))
        .transpose()
}

/// The engine's view of a stored case.
pub fn record(c: &service_case::Model) -> Result<CaseRecord, ApiError> {
    let place = match (c.current_mailbox.as_deref(), c.current_org_id) {
        (Some(m), Some(org)) => {
            let mailbox = parse_mailbox(m).ok_or_else(|| bad_row("mailbox"))?;
            let holder = if Some(org) == c.corporation_id && mailbox == Mailbox::Corporation {
                Holder::Corporation
            } else {
                Holder::Provider
            };
            Some(Place { holder, mailbox })
        }
        _ => None,
    };
    Ok(CaseRecord {
        number: c.number.clone(),
        channel: parse_channel(&c.channel).ok_or_else(|| bad_row("channel"))?,
        status: CaseStatus::parse(&c.status).ok_or_else(|| bad_row("status"))?,
        stage: Stage::parse(&c.stage).ok_or_else(|| bad_row("stage"))?,
        route_index: c.route_index.and_then(|i| usize::try_from(i).ok()),
        place,
        assignee: c.assignee_id,
        applicant: Applicant {
            iin: c.applicant_iin.clone(),
            full_name: c.applicant_name.clone(),
        },
        documents: documents(c),
        attributes: attributes(c),
        registered_at: c.registered_at,
        term_due: c.term_due_at,
        provider_due: c.provider_due_at,
        step_started: c.step_started_at,
        step_due: c.step_due_at.filter(|d| *d < far_future()),
        storage_due: c.storage_due_at,
        receipt: parse_json(&c.receipt, "receipt")?,
        registration: parse_json(&c.registration, "registration")?,
        refusal: parse_json(&c.refusal, "refusal")?,
        refusal_prepared: c.refusal_prepared,
        result: parse_json(&c.result, "result")?,
        delivery: c.result_at.map(|at| Delivery {
            at,
            on_time: c.result_on_time.unwrap_or(true),
            working_days: c.result_working_days,
        }),
        returned_unclaimed: c.returned_unclaimed,
        closed_at: c.closed_at,
    })
}

/// The documents of a stored case.
pub fn documents(c: &service_case::Model) -> Vec<SubmittedDocument> {
    serde_json::from_str(&c.documents).unwrap_or_default()
}

/// The columns a transition writes: everything the engine decides about the case.
pub(crate) fn write_record(
    a: &mut service_case::ActiveModel,
    r: &CaseRecord,
    parties: &Parties,
) -> Result<(), ApiError> {
    let org = |p: &Place| parties.org(p.holder).map(|o| o.id).map_err(case_error);
    a.number = Set(r.number.clone());
    a.status = Set(r.status.as_str().to_owned());
    a.stage = Set(r.stage.as_str().to_owned());
    a.route_index = Set(r.route_index.map(|i| i as i32));
    a.current_mailbox = Set(r.place.map(|p| mailbox_str(p.mailbox).to_owned()));
    a.current_org_id = Set(r.place.as_ref().map(org).transpose()?);
    a.assignee_id = Set(r.assignee);
    a.term_due_at = Set(r.term_due);
    a.provider_due_at = Set(r.provider_due);
    a.step_started_at = Set(r.step_started);
    // An open stop without a staff deadline sorts last and is never overdue.
    a.step_due_at = Set(r.place.map(|_| r.step_due.unwrap_or_else(far_future)));
    a.storage_due_at = Set(r.storage_due);
    a.receipt = Set(to_json(&r.receipt)?);
    a.registration = Set(to_json(&r.registration)?);
    a.refusal = Set(to_json(&r.refusal)?);
    a.refusal_prepared = Set(r.refusal_prepared);
    a.result = Set(to_json(&r.result)?);
    a.result_at = Set(r.delivery.map(|d| d.at));
    a.result_on_time = Set(r.delivery.map(|d| d.on_time));
    a.result_working_days = Set(r.delivery.and_then(|d| d.working_days));
    a.returned_unclaimed = Set(r.returned_unclaimed);
    a.closed_at = Set(r.closed_at);
    Ok(())
}

pub(crate) fn step_row(case_id: i64, seq: i32, s: &OpenedStep) -> case_step::ActiveModel {
    case_step::ActiveModel {
        id: sea_orm::ActiveValue::NotSet,
        case_id: Set(case_id),
        seq: Set(seq),
        stage: Set(s.stop.stage.as_str().to_owned()),
        step_order: Set(s.stop.step_order.map(|o| o as i32)),
        leg: Set(s.stop.leg.map(str::to_owned)),
        mailbox: Set(mailbox_str(s.stop.mailbox).to_owned()),
        organisation_id: Set(s.org_id),
        actor_id: Set(None),
        actor_name: Set(None),
        started_at: Set(s.started),
        due_at: Set(s.due),
        allowed_minutes: Set(s.allowed_minutes),
        finished_at: Set(None),
        on_time: Set(None),
        outcome: Set(None),
        comment: Set(None),
        used_minutes: Set(None),
        risk_at: Set(s.risk_at),
        risk_announced_at: Set(None),
        overdue_announced_at: Set(None),
    }
}

pub(crate) fn finish(row: &mut case_step::ActiveModel, c: &engine::ClosedStep) {
    row.finished_at = Set(Some(c.finished));
    row.on_time = Set(c.on_time);
    row.used_minutes = Set(c.used_minutes);
    row.outcome = Set(Some(c.outcome.as_str().to_owned()));
    row.comment = Set(c.comment.clone());
    row.actor_id = Set(c.actor_id);
    row.actor_name = Set(Some(c.actor_name.clone()));
}

/// What a new case row holds besides what the engine decides: the pinned regulation, the
/// organisations, the calendar, the applicant's contacts and account, and the request's key.
pub(crate) struct Origin<'a> {
    /// The regulation version pinned.
    pub regulation: &'a StoredRegulation,
    /// The provider.
    pub provider: &'a organisation::Model,
    /// The State Corporation branch, for that channel.
    pub corporation: Option<&'a organisation::Model>,
    /// The calendar version the deadlines were computed on.
    pub calendar_version: i32,
    /// The applicant's contacts.
    pub contacts: &'a Contacts,
    /// The applicant's account, for portal submissions.
    pub applicant_id: Option<i64>,
    /// The client's idempotency key.
    pub idempotency_key: Option<String>,
    /// The application's fingerprint (see [`request_hash`]).
    pub request_hash: Option<String>,
}

/// A new case row as the engine decided it at intake (`case`), version 1. The case store
/// inserts it and then persists the intake transition; the generator writes it in bulk.
pub(crate) fn new_row(
    o: &Origin<'_>,
    case: &CaseRecord,
    now: DateTime<Utc>,
) -> Result<service_case::ActiveModel, ApiError> {
    let reg = &o.regulation.regulation;
    Ok(service_case::ActiveModel {
        id: sea_orm::ActiveValue::NotSet,
        number: Set(case.number.clone()),
        regulation_id: Set(o.regulation.row.id),
        regulation_code: Set(reg.code.clone()),
        regulation_version: Set(o.regulation.row.version),
        service_code: Set(reg.service.clone()),
        region_code: Set(o.provider.region_code.clone()),
        provider_id: Set(o.provider.id),
        corporation_id: Set(o.corporation.map(|c| c.id)),
        channel: Set(channel_str(case.channel).to_owned()),
        status: Set(CaseStatus::Submitted.as_str().to_owned()),
        stage: Set(Stage::Intake.as_str().to_owned()),
        route_index: Set(None),
        current_mailbox: Set(None),
        current_org_id: Set(None),
        assignee_id: Set(None),
        applicant_iin: Set(case.applicant.iin.clone()),
        applicant_name: Set(case.applicant.full_name.clone()),
        applicant_name_key: Set(Some(domain::inbox::name_key(&case.applicant.full_name))),
        applicant_contacts: Set(text(o.contacts)?),
        applicant_id: Set(o.applicant_id),
        attributes: Set(text(&case.attributes)?),
        documents: Set(text(&case.documents)?),
        receipt: Set(None),
        result: Set(None),
        refusal: Set(None),
        refusal_prepared: Set(false),
        registered_at: Set(case.registered_at),
        term_due_at: Set(None),
        provider_due_at: Set(None),
        step_started_at: Set(None),
        step_due_at: Set(None),
        storage_due_at: Set(None),
        calendar_version: Set(o.calendar_version),
        idempotency_key: Set(o.idempotency_key.clone()),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        closed_at: Set(None),
        result_at: Set(None),
        result_on_time: Set(None),
        result_working_days: Set(None),
        returned_unclaimed: Set(false),
        registration: Set(None),
        request_hash: Set(o.request_hash.clone()),
    })
}

/// The attributes of a case.
pub fn attributes(c: &service_case::Model) -> Attributes {
    serde_json::from_str(&c.attributes).unwrap_or_default()
}
