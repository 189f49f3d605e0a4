//! Cases as clients read them: the case, its timeline and event chain, inboxes and the
//! applicant's own applications. Scope is checked here for every case: outside your scope a case
//! is `NOT_FOUND`. Registration and moves are in `case_mutations`.

use async_graphql::{ComplexObject, Context, Enum, InputObject, Json, Object, SimpleObject, ID};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use domain::case::Attributes;
use domain::documents::Refusal as DomainRefusal;
use domain::identity::Role as DomainRole;
use domain::view::Audience;
use entity::{app_user, applicant, service_case};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::auth::{require, Auth, Principal, Subject};
use crate::error::ApiError;
use crate::graphql::catalog::{Channel, Mailbox, Regulation, Stage};
use crate::graphql::documents::{
    AvailableAction, PublicProgress, ReasonedRefusal, Receipt, RefusalReceipt, Registration,
    ServiceResult,
};
use crate::graphql::scalars::Instant;
use crate::graphql::state;
use crate::state::AppState;
use crate::store::cases::{self};

pub(crate) const STAFF: &[DomainRole] = &[
    DomainRole::OfficeClerk,
    DomainRole::Head,
    DomainRole::Executor,
    DomainRole::CorporationOperator,
];
pub(crate) const READERS: &[DomainRole] = &[
    DomainRole::OfficeClerk,
    DomainRole::Head,
    DomainRole::Executor,
    DomainRole::CorporationOperator,
    DomainRole::Analyst,
    DomainRole::Admin,
    DomainRole::Applicant,
];

/// Where a case stands overall.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "domain::case::CaseStatus")]
pub enum CaseStatus {
    /// Submitted on the portal, waiting for the office to register it.
    Submitted,
    /// Registered and moving through the provider's (or the courier's) hands.
    InProgress,
    /// The result waits at the State Corporation counter for the applicant.
    ResultReady,
    /// The result was issued.
    Completed,
    /// Refused at intake (incomplete or expired documents).
    RefusedAtIntake,
    /// A reasoned refusal was issued.
    Refused,
    /// Not collected in time: returned to the provider for storage.
    ReturnedUnclaimed,
    /// Requested back from the provider's storage.
    Redelivery,
}

/// The applicant as written on the application.
#[derive(SimpleObject, Clone)]
pub struct Applicant {
    /// IIN.
    iin: String,
    /// Full name.
    full_name: String,
    /// Phone, if given.
    phone: Option<String>,
    /// E-mail, if given.
    email: Option<String>,
}

/// A document of the application.
#[derive(SimpleObject, Clone)]
pub struct CaseDocument {
    /// What it is.
    name: String,
    /// Whether it was handed in.
    provided: bool,
    /// Whether it has expired.
    expired: bool,
}

/// A name and a value.
#[derive(SimpleObject, Clone)]
pub struct Attribute {
    /// Name, e.g. `location`.
    name: String,
    /// Value, e.g. `elsewhere`.
    value: String,
}

/// One stop in the history of a case.
#[derive(SimpleObject)]
pub struct TimelineEntry {
    /// Position in the history, from 1.
    seq: i32,
    /// What the case waited for.
    stage: Stage,
    /// The mailbox.
    mailbox: Mailbox,
    /// The organisation holding the mailbox (code).
    organisation: String,
    /// The regulation step implemented, if any.
    step_order: Option<i32>,
    /// The State Corporation leg implemented, if any.
    leg: Option<String>,
    /// Who finished it.
    actor: Option<String>,
    /// When it started.
    started_at: Instant,
    /// When it was legally due (none while a result waits in storage).
    due_at: Option<Instant>,
    /// When it finished; none while open.
    finished_at: Option<Instant>,
    /// Whether it finished by its due time; none while open.
    on_time: Option<bool>,
    /// Whether it is or was late: finished after its due time, or open past it.
    late: bool,
    /// What came of it; staff only.
    outcome: Option<StepOutcome>,
    /// A comment (a head's reason for returning, an executor's note).
    comment: Option<String>,
}

/// One event of a case; each event's hash covers the previous one's.
#[derive(SimpleObject)]
pub struct CaseEvent {
    /// Position, from 1.
    seq: i32,
    /// What happened, e.g. `REGISTERED`, `SIGN_RESULT`.
    kind: String,
    /// Details.
    payload: Json<serde_json::Value>,
    /// Who.
    actor: String,
    /// When.
    at: Instant,
    /// SHA-256 of the previous event (zeros for the first).
    prev_hash: String,
    /// SHA-256 of this event.
    hash: String,
}

/// An application travelling through its pinned regulation.
#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct Case {
    /// Identifier.
    id: ID,
    /// Registration number, e.g. `KZ47-20250602-0000042`.
    number: String,
    /// Version; every move needs the current one and increments it.
    version: i32,
    /// Where the application came in.
    channel: Channel,
    /// Where it stands overall.
    status: CaseStatus,
    /// What it waits for.
    stage: Stage,
    /// The mailbox holding it; none once closed.
    current_mailbox: Option<Mailbox>,
    /// The applicant.
    applicant: Applicant,
    /// Documents as submitted.
    documents: Vec<CaseDocument>,
    /// Attributes the regulation depends on.
    attributes: Vec<Attribute>,
    /// When it was registered (the legal term starts here).
    registered_at: Instant,
    /// The legal result date.
    term_due_at: Option<Instant>,
    /// For State Corporation cases: when the provider must hand the result over.
    provider_due_at: Option<Instant>,
    /// When the current stop started.
    step_started_at: Option<Instant>,
    /// When the current stop is legally due.
    step_due_at: Option<Instant>,
    /// When an uncollected result goes back to the provider.
    storage_due_at: Option<Instant>,
    /// The working-calendar version its due times were computed on.
    calendar_version: i32,
    /// When it closed.
    closed_at: Option<Instant>,
    #[graphql(skip)]
    model: service_case::Model,
}

impl TryFrom<service_case::Model> for Case {
    type Error = ApiError;
    fn try_from(m: service_case::Model) -> Result<Case, ApiError> {
        let bad = |w: &str| {
            ApiError::internal(std::io::Error::other(format!("stored case has a bad {w}")))
        };
        let contacts: serde_json::Value =
            serde_json::from_str(&m.applicant_contacts).unwrap_or_default();
        let documents = cases::documents(&m);
        let attrs: Attributes = cases::attributes(&m);
        Ok(Case {
            id: ID(m.id.to_string()),
            number: m.number.clone(),
            version: m.version,
            channel: cases::parse_channel(&m.channel)
                .ok_or_else(|| bad("channel"))?
                .into(),
            status: domain::case::CaseStatus::parse(&m.status)
                .ok_or_else(|| bad("status"))?
                .into(),
            stage: domain::case::Stage::parse(&m.stage)
                .ok_or_else(|| bad("stage"))?
                .into(),
            current_mailbox: m
                .current_mailbox
                .as_deref()
                .and_then(cases::parse_mailbox)
                .map(Into::into),
            applicant: Applicant {
                iin: m.applicant_iin.clone(),
                full_name: m.applicant_name.clone(),
                phone: contacts["phone"].as_str().map(str::to_owned),
                email: contacts["email"].as_str().map(str::to_owned),
            },
            documents: documents
                .into_iter()
                .map(|d| CaseDocument {
                    name: d.name,
                    provided: d.provided,
                    expired: d.expired,
                })
                .collect(),
            attributes: attrs
                .into_iter()
                .map(|(name, value)| Attribute { name, value })
                .collect(),
            registered_at: m.registered_at.into(),
            term_due_at: m.term_due_at.map(Into::into),
            provider_due_at: m.provider_due_at.map(Into::into),
            step_started_at: m.step_started_at.map(Into::into),
            step_due_at: m
                .step_due_at
                .filter(|d| *d < cases::far_future())
                .map(Into::into),
            storage_due_at: m.storage_due_at.map(Into::into),
            calendar_version: m.calendar_version,
            closed_at: m.closed_at.map(Into::into),
            model: m,
        })
    }
}

#[ComplexObject]
impl Case {
    /// The regulation version pinned at registration (a newer version never changes a running case).
    async fn regulation(&self, ctx: &Context<'_>) -> Result<Regulation, ApiError> {
        let state = state(ctx)?;
        state
            .regulations
            .get(
                &state.db,
                &self.model.regulation_code,
                Some(self.model.regulation_version),
            )
            .await?
            .map(|s| Regulation::from(&s))
            .ok_or_else(|| ApiError::internal(std::io::Error::other("pinned regulation missing")))
    }

    /// The provider (code).
    async fn provider(&self, ctx: &Context<'_>) -> Result<String, ApiError> {
        org_code(ctx, self.model.provider_id).await
    }

    /// The State Corporation branch (code), for that channel.
    async fn corporation(&self, ctx: &Context<'_>) -> Result<Option<String>, ApiError> {
        match self.model.corporation_id {
            Some(id) => org_code(ctx, id).await.map(Some),
            None => Ok(None),
        }
    }

    /// The assigned executor's display name; staff only (null for applicants).
    async fn assignee_name(&self, ctx: &Context<'_>) -> Result<Option<String>, ApiError> {
        if !audience(ctx).sees_internal() {
            return Ok(None);
        }
        match self.model.assignee_id {
            Some(id) => Ok(crate::graphql::loaders::user(ctx, id)
                .await?
                .map(|u| crate::store::accounts::display_name(&u))),
            None => Ok(None),
        }
    }

    /// The executor assigned by the head (username); staff only (null for applicants).
    async fn assignee(&self, ctx: &Context<'_>) -> Result<Option<String>, ApiError> {
        if !audience(ctx).sees_internal() {
            return Ok(None);
        }
        match self.model.assignee_id {
            Some(id) => Ok(crate::graphql::loaders::user(ctx, id)
                .await?
                .map(|u| u.username)),
            None => Ok(None),
        }
    }

    /// Whether the current stop is past its due time.
    async fn overdue(&self, ctx: &Context<'_>) -> Result<bool, ApiError> {
        let now = state(ctx)?.clock.now();
        Ok(self.step_due_at.is_some_and(|d| d.0 < now))
    }

    /// Where the case stands, as the applicant is told (a public label for every audience).
    async fn progress(&self) -> Result<PublicProgress, ApiError> {
        let r = cases::record(&self.model)?;
        Ok(domain::view::public_progress(r.status, r.stage).into())
    }

    /// The receipt (қолхат): issued once at acceptance and never changed.
    async fn receipt(&self, ctx: &Context<'_>) -> Result<Option<Receipt>, ApiError> {
        let names = domain::view::shows_staff_names(audience(ctx));
        Ok(cases::record(&self.model)?
            .receipt
            .map(|r| Receipt::from_domain(r, names)))
    }

    /// The provider's registration of an application that came from the portal or the State
    /// Corporation (a record of its own; the receipt stays as issued).
    async fn registration(&self, ctx: &Context<'_>) -> Result<Option<Registration>, ApiError> {
        let names = domain::view::shows_staff_names(audience(ctx));
        Ok(cases::record(&self.model)?
            .registration
            .map(|r| Registration::from_domain(r, names)))
    }

    /// The refusal receipt given at intake, naming the missing and expired documents.
    async fn refusal_receipt(&self, ctx: &Context<'_>) -> Result<Option<RefusalReceipt>, ApiError> {
        let a = audience(ctx);
        let names = domain::view::shows_staff_names(a);
        Ok(match cases::record(&self.model)?.refusal {
            Some(ref r) => match domain::view::refusal(a, r) {
                Some(DomainRefusal::IntakeRefusal(x)) => {
                    Some(RefusalReceipt::from_domain(x, names))
                }
                _ => None,
            },
            None => None,
        })
    }

    /// The reasoned refusal (дәлелді жауап). Staff see the executor's draft; applicants see it
    /// only once the head has signed it.
    async fn reasoned_refusal(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<ReasonedRefusal>, ApiError> {
        let a = audience(ctx);
        let names = domain::view::shows_staff_names(a);
        Ok(match cases::record(&self.model)?.refusal {
            Some(ref r) => match domain::view::refusal(a, r) {
                Some(DomainRefusal::ReasonedRefusal(x)) => {
                    Some(ReasonedRefusal::from_domain(x, names))
                }
                _ => None,
            },
            None => None,
        })
    }

    /// The result of the service. Staff see it once signed; applicants once it was issued to
    /// them.
    async fn result(&self, ctx: &Context<'_>) -> Result<Option<ServiceResult>, ApiError> {
        let a = audience(ctx);
        let names = domain::view::shows_staff_names(a);
        let Some(r) = cases::record(&self.model)?.result else {
            return Ok(None);
        };
        let Some(r) = domain::view::result(a, &r) else {
            return Ok(None);
        };
        let reg = cases::pinned(state(ctx)?, &self.model).await?;
        Ok(Some(ServiceResult::from_domain(r, &reg, names)))
    }

    /// What the caller may do with the case now: each action with the mutation to call, what
    /// it needs and the stop's due time. Empty when it is not the caller's turn.
    async fn available_actions(&self, ctx: &Context<'_>) -> Result<Vec<AvailableAction>, ApiError> {
        let Some(Auth::Principal(p)) = ctx.data_opt::<Auth>() else {
            return Ok(Vec::new());
        };
        if p.role == DomainRole::Applicant || self.model.closed_at.is_some() {
            return Ok(Vec::new());
        }
        let state = state(ctx)?;
        let reg = cases::pinned(state, &self.model).await?;
        let (provider, corporation) =
            cases::load_orgs(state, self.model.provider_id, self.model.corporation_id).await?;
        let parties = cases::parties(&provider, corporation.as_deref());
        let actor = domain_actor(p, String::new(), None);
        Ok(
            domain::engine::available_actions(&cases::record(&self.model)?, &parties, &reg, &actor)
                .into_iter()
                .map(AvailableAction::from)
                .collect(),
        )
    }

    /// Where the case stands on its regulation's route for its channel: the `position` of a stop
    /// in `Regulation.routes` (of the version the case pinned, `regulationVersion`). Null when
    /// the case is closed or off the route (a result stored at the provider, or on its way back
    /// to the counter).
    async fn path_position(&self, ctx: &Context<'_>) -> Result<Option<i32>, ApiError> {
        let reg = cases::pinned(state(ctx)?, &self.model).await?;
        let r = cases::record(&self.model)?;
        Ok(
            domain::case::path_position(&reg, r.channel, &r.attributes, r.route_index)
                .and_then(|p| i32::try_from(p).ok()),
        )
    }

    /// Every stop so far: mailbox, who, started, due, finished, on time or late, outcome,
    /// comment. Applicants see the stops and their times; who acted, outcomes and comments are
    /// staff only (null for applicants).
    async fn timeline(&self, ctx: &Context<'_>) -> Result<Vec<TimelineEntry>, ApiError> {
        let state = state(ctx)?;
        let now = state.clock.now();
        let internal = audience(ctx).sees_internal();
        let steps = crate::graphql::loaders::timeline(ctx, self.model.id).await?;
        // Every stop's organisation in one batch (with the other cases' of this answer).
        let org_ids: std::collections::BTreeSet<i64> =
            steps.iter().map(|s| s.organisation_id).collect();
        let orgs = futures_util::future::try_join_all(
            org_ids
                .into_iter()
                .map(|id| async move { org_code(ctx, id).await.map(|c| (id, c)) }),
        )
        .await?
        .into_iter()
        .collect::<std::collections::HashMap<i64, String>>();
        let mut out = Vec::new();
        for s in steps {
            let late = match (s.finished_at, s.due_at) {
                (Some(f), Some(d)) => f > d,
                (None, Some(d)) => now > d,
                _ => false,
            };
            out.push(TimelineEntry {
                seq: s.seq,
                stage: domain::case::Stage::parse(&s.stage)
                    .unwrap_or(domain::case::Stage::Closed)
                    .into(),
                mailbox: cases::parse_mailbox(&s.mailbox)
                    .unwrap_or(domain::regulation::Mailbox::Office)
                    .into(),
                organisation: orgs.get(&s.organisation_id).cloned().unwrap_or_default(),
                step_order: s.step_order,
                leg: s.leg,
                actor: s.actor_name.filter(|_| internal),
                started_at: s.started_at.into(),
                due_at: s.due_at.map(Into::into),
                finished_at: s.finished_at.map(Into::into),
                on_time: s.on_time,
                late,
                outcome: s
                    .outcome
                    .filter(|_| internal)
                    .and_then(|o| domain::engine::Outcome::parse(&o))
                    .map(Into::into),
                comment: s.comment.filter(|_| internal),
            });
        }
        Ok(out)
    }

    /// A five-minute link to one of the case's legal documents as a printable PDF (A4, with
    /// the number's barcode and a QR code of the public verification page), in Kazakh or
    /// Russian; null when the case has no such document, or not yet for the caller (a result
    /// before it is signed — for the applicant, before it is issued; a reasoned refusal before it
    /// is signed).
    async fn document_pdf(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which document.")] kind: crate::graphql::verify::DocumentKind,
        #[graphql(desc = "KK (default) or RU.")] language: Option<
            crate::graphql::language::Language,
        >,
    ) -> Result<Option<crate::graphql::documents::DownloadLink>, ApiError> {
        let Some(Auth::Principal(p)) = ctx.data_opt::<Auth>() else {
            return Err(ApiError::Unauthenticated);
        };
        let kind = domain::view::DocumentKind::from(kind);
        if !domain::printable::available(&cases::record(&self.model)?, kind, Audience::of(p.role)) {
            return Ok(None);
        }
        let language = match language.map(domain::language::Language::from) {
            Some(domain::language::Language::Ru) => "ru",
            Some(domain::language::Language::En) => {
                return Err(ApiError::BadUserInput(
                    "printable documents are in Kazakh or Russian".into(),
                ))
            }
            _ => "kk",
        };
        let params = [("language".to_owned(), language.to_owned())].into();
        let (url, expires_at) = crate::links::sign(
            &state(ctx)?.tokens,
            p.subject.clone(),
            &crate::links::document_path(self.model.id, kind),
            &params,
            Utc::now(),
        )?;
        Ok(Some(crate::graphql::documents::DownloadLink::new(
            url, expires_at,
        )))
    }

    /// Files attached to the case (scans, signed documents), oldest first; at most the first
    /// 500.
    async fn files(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Vec<crate::graphql::documents::CaseFile>, ApiError> {
        let staff_view = domain::view::shows_staff_names(audience(ctx));
        Ok(crate::store::files::of_case(&state(ctx)?.db, self.model.id)
            .await?
            .into_iter()
            .map(|row| crate::graphql::documents::CaseFile::new(row, staff_view))
            .collect())
    }

    /// The append-only event history; staff only (`FORBIDDEN` for applicants).
    async fn events(&self, ctx: &Context<'_>) -> Result<Vec<CaseEvent>, ApiError> {
        if !audience(ctx).sees_internal() {
            return Err(ApiError::Forbidden);
        }
        Ok(cases::events(&state(ctx)?.db, self.model.id)
            .await?
            .into_iter()
            .map(|e| CaseEvent {
                seq: e.seq,
                kind: e.kind,
                payload: Json(serde_json::from_str(&e.payload).unwrap_or_default()),
                actor: e.actor,
                at: e.at.into(),
                prev_hash: e.prev_hash,
                hash: e.hash,
            })
            .collect())
    }

    /// Whether every event's hash matches its content and the previous event's hash; staff
    /// only (`FORBIDDEN` for applicants).
    async fn chain_valid(&self, ctx: &Context<'_>) -> Result<bool, ApiError> {
        if !audience(ctx).sees_internal() {
            return Err(ApiError::Forbidden);
        }
        Ok(cases::chain_valid(
            &cases::events(&state(ctx)?.db, self.model.id).await?,
        ))
    }
}

async fn org_code(ctx: &Context<'_>, id: i64) -> Result<String, ApiError> {
    Ok(crate::graphql::loaders::organisation(ctx, id)
        .await?
        .map(|o| o.code)
        .unwrap_or_default())
}

/// Who looks: staff, or (also when no one is signed in) an applicant, who sees least.
fn audience(ctx: &Context<'_>) -> Audience {
    match ctx.data_opt::<Auth>() {
        Some(Auth::Principal(p)) => Audience::of(p.role),
        _ => Audience::Applicant,
    }
}

/// Whether the caller may see a case at all.
pub(crate) async fn visible(
    state: &AppState,
    p: &Principal,
    c: &service_case::Model,
) -> Result<bool, ApiError> {
    Ok(match p.role {
        DomainRole::Admin => true,
        DomainRole::Analyst => p.region.as_deref().is_none_or(|r| r == c.region_code),
        DomainRole::OfficeClerk | DomainRole::Head | DomainRole::Executor => {
            p.organisation_id == Some(c.provider_id)
        }
        DomainRole::CorporationOperator => {
            p.organisation_id.is_some() && p.organisation_id == c.corporation_id
        }
        DomainRole::Applicant => match p.subject {
            Subject::Applicant(id) => {
                c.applicant_id == Some(id)
                    || applicant::Entity::find_by_id(id)
                        .one(&state.db)
                        .await?
                        .is_some_and(|a| a.iin == c.applicant_iin)
            }
            Subject::User(_) => false,
        },
    })
}

/// A case the caller may see; any other (or none) is `NOT_FOUND`.
pub(crate) async fn load_visible(
    ctx: &Context<'_>,
    id: &ID,
) -> Result<service_case::Model, ApiError> {
    let p = require(ctx, READERS)?;
    let state = state(ctx)?;
    let not_found = || ApiError::NotFound("no such case".into());
    let id: i64 = id.parse().map_err(|_| not_found())?;
    let c = cases::find(&state.db, id).await?.ok_or_else(not_found)?;
    if !visible(state, p, &c).await? {
        return Err(not_found());
    }
    Ok(c)
}

/// Filters of an inbox.
#[derive(InputObject, Default)]
pub struct InboxFilter {
    /// Only cases of this service.
    #[graphql(validator(chars_max_length = 64))]
    service: Option<String>,
    /// Only cases past (true) or within (false) their step's due time.
    overdue: Option<bool>,
    /// Only cases whose step is due before this instant.
    due_before: Option<Instant>,
    /// Only cases assigned to this executor (username).
    #[graphql(validator(chars_max_length = 64))]
    assignee: Option<String>,
    /// Only cases at these stages (e.g. a head's `RESOLUTION` to assign, or `SIGN` to sign).
    #[graphql(validator(max_items = 12))]
    stages: Option<Vec<Stage>>,
    /// Find cases: an applicant's IIN (12 digits, exact), a registration number (exact, any
    /// letter case), or else the start of the applicant's name (at least 2 letters, any letter
    /// case, words in the order written: "Серікова Ай"). All three are indexed.
    #[graphql(validator(chars_max_length = 100))]
    search: Option<String>,
}

/// What came of a step.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "domain::engine::Outcome")]
pub enum StepOutcome {
    /// Accepted and registered.
    Accepted,
    /// Refused at intake, with a refusal receipt.
    RefusedAtIntake,
    /// The head assigned an executor.
    Assigned,
    /// The executor prepared the result.
    ResultPrepared,
    /// The executor prepared a reasoned refusal.
    ReasonedRefusalPrepared,
    /// The head signed.
    Signed,
    /// The head returned the draft to the executor.
    Returned,
    /// Issued (or handed to the courier).
    Issued,
    /// The courier delivered the documents.
    Delivered,
    /// The State Corporation received the result.
    Received,
    /// Sent back to the provider uncollected.
    ReturnedUncollected,
    /// Requested back from storage.
    Requested,
    /// Sent back from storage to the counter.
    Redelivered,
}

/// The orders an inbox can be read in; ties go by case id in the same direction.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Default)]
pub enum InboxSort {
    /// The most urgent step first: what to do next.
    #[default]
    DueSoonest,
    /// The step due last first.
    DueLatest,
    /// The oldest application first.
    RegisteredOldest,
    /// The newest application first.
    RegisteredNewest,
}

impl From<InboxSort> for domain::inbox::InboxSort {
    fn from(s: InboxSort) -> Self {
        match s {
            InboxSort::DueSoonest => Self::DueSoonest,
            InboxSort::DueLatest => Self::DueLatest,
            InboxSort::RegisteredOldest => Self::RegisteredOldest,
            InboxSort::RegisteredNewest => Self::RegisteredNewest,
        }
    }
}

/// How many cases of a mailbox are at one stage.
#[derive(SimpleObject)]
pub struct StageCount {
    /// The stage.
    stage: Stage,
    /// Cases at it (under every filter except the stage filter).
    count: i64,
}

/// One page of an inbox, with the mailbox's counts under the same filters.
#[derive(SimpleObject)]
pub struct InboxPage {
    /// Cases matching the filter in the mailbox.
    total_count: i64,
    /// Of which past their step's due time.
    overdue_count: i64,
    /// Of which due from now until the end of the organisation's local day.
    due_today_count: i64,
    /// Per stage, under every filter except the stage filter (a tab bar's counts); stages
    /// with no case are left out.
    stage_counts: Vec<StageCount>,
    /// This page.
    nodes: Vec<Case>,
    /// Pass as `after` for the next page.
    end_cursor: Option<String>,
    /// Whether there is a next page.
    has_next_page: bool,
}

/// A page of the caller's own applications.
#[derive(SimpleObject)]
pub struct ApplicationsPage {
    /// This page, newest first.
    nodes: Vec<Case>,
    /// Pass as `after` for the next page.
    end_cursor: Option<String>,
    /// Whether there is a next page.
    has_next_page: bool,
}

/// A keyset cursor: an instant and an id, opaque to clients.
pub(crate) fn cursor(due: DateTime<Utc>, id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}:{id}", due.timestamp_micros()))
}

/// Reads a cursor made by [`cursor`]; anything else is `BAD_USER_INPUT`.
pub(crate) fn parse_cursor(s: &str) -> Result<(DateTime<Utc>, i64), ApiError> {
    let bad = || ApiError::BadUserInput("invalid cursor".into());
    let raw = URL_SAFE_NO_PAD.decode(s).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let (due, id) = text.split_once(':').ok_or_else(bad)?;
    let due = DateTime::from_timestamp_micros(due.parse().map_err(|_| bad())?).ok_or_else(bad)?;
    Ok((due, id.parse().map_err(|_| bad())?))
}

/// A page size of 1–200, 50 by default.
pub(crate) fn page_size(first: Option<i32>) -> Result<u64, ApiError> {
    match first.unwrap_or(50) {
        n @ 1..=200 => Ok(n as u64),
        n => Err(ApiError::BadUserInput(format!(
            "first must be 1–200, got {n}"
        ))),
    }
}

/// Case queries.
#[derive(Default)]
pub struct CaseQuery;

#[Object]
impl CaseQuery {
    /// A mailbox of the caller's organisation, filtered, sorted (by default the most urgent
    /// step first) and keyset-paginated, with its counts: total, overdue, due today and per
    /// stage.
    async fn inbox(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The mailbox.")] mailbox: Mailbox,
        #[graphql(desc = "Filters.")] filter: Option<InboxFilter>,
        #[graphql(desc = "The order (default `DUE_SOONEST`). A cursor belongs to its sort.")]
        sort: Option<InboxSort>,
        #[graphql(desc = "Page size, 1–200 (default 50).")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
    ) -> Result<InboxPage, ApiError> {
        let p = require(ctx, STAFF)?;
        let state = state(ctx)?;
        let mailbox: domain::regulation::Mailbox = mailbox.into();
        let corporation_staff = p.role == DomainRole::CorporationOperator;
        if corporation_staff != (mailbox == domain::regulation::Mailbox::Corporation) {
            return Err(ApiError::Forbidden);
        }
        let org_id = p.organisation_id.ok_or(ApiError::Forbidden)?;
        let filter = filter.unwrap_or_default();
        let search = match filter.search.as_deref() {
            Some(text) => Some(
                domain::inbox::Search::parse(text)
                    .map_err(|e| ApiError::BadUserInput(e.to_string()))?,
            ),
            None => None,
        };
        let assignee = match &filter.assignee {
            Some(a) => Some(
                app_user::Entity::find()
                    .filter(app_user::Column::Username.eq(a.as_str()))
                    .one(&state.db)
                    .await?
                    .map(|u| u.id)
                    .unwrap_or(-1),
            ),
            None => None,
        };
        let org = state
            .organisations
            .get(&state.db, org_id)
            .await?
            .ok_or(ApiError::Forbidden)?;
        let (_, tz) = cases::hours_and_zone(state, &org)?;
        let now = state.clock.now();
        let query = crate::store::inbox::InboxQuery {
            org: org_id,
            mailbox,
            service: filter.service,
            overdue: filter.overdue,
            due_before: filter.due_before.map(|t| t.0),
            assignee,
            stages: filter
                .stages
                .unwrap_or_default()
                .into_iter()
                .map(Into::into)
                .collect(),
            search,
            sort: sort.unwrap_or_default().into(),
            after,
            size: page_size(first)?,
        };
        let today = domain::inbox::due_today(now, tz);
        let key = crate::mailbox::MailboxKey { org_id, mailbox };
        let counts = crate::graphql::mailboxes(ctx)?
            .count(&state.db, key, &query, now, today, None)
            .await?;
        let page = crate::store::inbox::page(&state.db, &query, now).await?;
        Ok(InboxPage {
            total_count: counts.total,
            overdue_count: counts.overdue,
            due_today_count: counts.due_today,
            stage_counts: counts
                .per_stage
                .into_iter()
                .map(|(stage, count)| StageCount {
                    stage: stage.into(),
                    count,
                })
                .collect(),
            nodes: page
                .rows
                .into_iter()
                .map(Case::try_from)
                .collect::<Result<_, _>>()?,
            end_cursor: page.end_cursor,
            has_next_page: page.has_next_page,
        })
    }

    /// One case. Outside the caller's scope it is `NOT_FOUND`.
    async fn case(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Case id.")] id: ID,
    ) -> Result<Case, ApiError> {
        Case::try_from(load_visible(ctx, &id).await?)
    }

    /// One case by its registration number. Outside the caller's scope it is `NOT_FOUND`.
    async fn case_by_number(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Registration number.", validator(chars_max_length = 40))] number: String,
    ) -> Result<Case, ApiError> {
        require(ctx, READERS)?;
        let state = state(ctx)?;
        let c = service_case::Entity::find()
            .filter(service_case::Column::Number.eq(number))
            .one(&state.db)
            .await?
            .ok_or_else(|| ApiError::NotFound("no such case".into()))?;
        Case::try_from(load_visible(ctx, &ID(c.id.to_string())).await?)
    }

    /// The signed-in applicant's own applications, newest first.
    async fn my_applications(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 1–200 (default 50).")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
    ) -> Result<ApplicationsPage, ApiError> {
        let p = require(ctx, &[DomainRole::Applicant])?;
        let state = state(ctx)?;
        let me = applicant::Entity::find_by_id(p.subject.id())
            .one(&state.db)
            .await?
            .ok_or(ApiError::Unauthenticated)?;
        let mut q = service_case::Entity::find()
            .filter(service_case::Column::ApplicantIin.eq(me.iin))
            .order_by_desc(service_case::Column::Id);
        if let Some(after) = after {
            let (_, id) = parse_cursor(&after)?;
            q = q.filter(service_case::Column::Id.lt(id));
        }
        let size = page_size(first)?;
        let mut rows = q.limit(size + 1).all(&state.db).await?;
        let has_next_page = rows.len() as u64 > size;
        rows.truncate(size as usize);
        let end_cursor = rows.last().map(|c| cursor(c.registered_at, c.id));
        Ok(ApplicationsPage {
            nodes: rows
                .into_iter()
                .map(Case::try_from)
                .collect::<Result<_, _>>()?,
            end_cursor,
            has_next_page,
        })
    }
}

/// The engine's view of the caller.
pub(crate) fn domain_actor(
    p: &Principal,
    name: String,
    iin: Option<String>,
) -> domain::engine::Actor {
    domain::engine::Actor {
        user_id: match p.subject {
            Subject::User(id) => Some(id),
            Subject::Applicant(_) => None,
        },
        name: if name.is_empty() {
            p.subject.claim()
        } else {
            name
        },
        role: p.role,
        organisation_id: p.organisation_id,
        iin,
    }
}
