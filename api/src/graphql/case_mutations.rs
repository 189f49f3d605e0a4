//! Case mutations: registration on each channel (intake) and the moves of each mailbox, each
//! taking the case's current version and returning the updated case. The engine in `domain`
//! decides; the mailbox actors run the move (`crate::mailbox`).

use async_graphql::{Context, InputObject, Object, ID};
use domain::case::{Attributes, Holder};
use domain::engine::{Applicant as DomainApplicant, Application, Command, SubmittedDocument};
use domain::identity::{Iin, Role as DomainRole};
use domain::regulation::Channel as DomainChannel;
use entity::{applicant, organisation};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::auth::{require, Principal};
use crate::error::ApiError;
use crate::graphql::cases::{domain_actor, load_visible, Case, STAFF};
use crate::graphql::state;
use crate::mailbox::{Execute, MailboxKey};
use crate::state::AppState;
use crate::store::cases::{self, Contacts, NewCase};

/// The applicant on an application.
#[derive(InputObject)]
pub struct ApplicantInput {
    /// IIN (12 digits with a valid check digit, else `INVALID_IIN`).
    #[graphql(validator(chars_max_length = 12))]
    iin: String,
    /// Full name (at most 200 characters).
    #[graphql(validator(chars_max_length = 200))]
    full_name: String,
    /// Phone (at most 32 characters).
    #[graphql(validator(chars_max_length = 32))]
    phone: Option<String>,
    /// E-mail (at most 254 characters).
    #[graphql(validator(chars_max_length = 254))]
    email: Option<String>,
}

/// A document handed in (or missing).
#[derive(InputObject)]
pub struct DocumentInput {
    /// What it is (at most 200 characters).
    #[graphql(validator(chars_max_length = 200))]
    name: String,
    /// Whether it was handed in (default true).
    #[graphql(default = true)]
    provided: bool,
    /// Whether it has expired (default false).
    #[graphql(default = false)]
    expired: bool,
}

/// An attribute the regulation may depend on.
#[derive(InputObject)]
pub struct AttributeInput {
    /// Name, e.g. `location` (at most 64 characters).
    #[graphql(validator(chars_max_length = 64))]
    name: String,
    /// Value, e.g. `elsewhere` (at most 64 characters).
    #[graphql(validator(chars_max_length = 64))]
    value: String,
}

/// An application.
#[derive(InputObject)]
pub struct ApplicationInput {
    /// Regulation code; the version in force is pinned.
    #[graphql(validator(chars_max_length = 64))]
    regulation: String,
    /// The provider (organisation code); for office registration the caller's own organisation.
    #[graphql(validator(chars_max_length = 64))]
    provider: Option<String>,
    /// The applicant.
    applicant: ApplicantInput,
    /// The documents (at most 50).
    #[graphql(validator(max_items = 50))]
    documents: Vec<DocumentInput>,
    /// Attributes (e.g. `location` = `elsewhere` in Atyrau; at most 20).
    #[graphql(default, validator(max_items = 20))]
    attributes: Vec<AttributeInput>,
    /// Which acceptance window governs it (e.g. `first_grade`).
    #[graphql(validator(chars_max_length = 64))]
    applies_to: Option<String>,
    /// A key of the client's choosing (at most 200 characters): a retried request returns the
    /// same case.
    #[graphql(validator(chars_max_length = 200))]
    idempotency_key: Option<String>,
}

async fn org_by_code(state: &AppState, code: &str) -> Result<organisation::Model, ApiError> {
    organisation::Entity::find()
        .filter(organisation::Column::Code.eq(code))
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::BadUserInput(format!("unknown organisation {code:?}")))
}

/// Builds and sends a new case to its intake mailbox. The engine decides whether it may be
/// registered, by whom, and what it is; this translates the input and routes it.
#[allow(clippy::too_many_arguments)]
async fn intake(
    ctx: &Context<'_>,
    p: &Principal,
    channel: DomainChannel,
    input: ApplicationInput,
    provider: organisation::Model,
    corporation: Option<organisation::Model>,
    applicant_id: Option<i64>,
    applicant_iin: Option<String>,
) -> Result<Case, ApiError> {
    let state = state(ctx)?;
    let iin = Iin::parse(&input.applicant.iin).map_err(crate::error::iin_error)?;
    let stored = state
        .regulations
        .get(&state.db, &input.regulation, None)
        .await?
        .ok_or_else(|| {
            ApiError::BadUserInput(format!("unknown regulation {:?}", input.regulation))
        })?;
    let reg = &stored.regulation;
    let attributes: Attributes = input
        .attributes
        .into_iter()
        .map(|a| (a.name, a.value))
        .collect();
    if attributes.len() > 16 {
        return Err(ApiError::BadUserInput("at most 16 attributes".into()));
    }
    // The mailbox that registers it: the intake stop's, in the intake organisation.
    let creation =
        domain::case::creation_stop(reg, channel, &Attributes::new()).map_err(cases::case_error)?;
    let key = match &creation {
        Some(stop) => MailboxKey {
            org_id: if stop.holder == Holder::Corporation {
                corporation
                    .as_ref()
                    .map(|c| c.id)
                    .ok_or(ApiError::Forbidden)?
            } else {
                provider.id
            },
            mailbox: stop.mailbox,
        },
        None => MailboxKey {
            org_id: provider.id,
            mailbox: reg
                .portal
                .as_ref()
                .map_or(domain::regulation::Mailbox::Office, |x| x.lands_in),
        },
    };
    // The principal was read with the request: no second read of the account per move.
    let name = p.username.clone().unwrap_or_default();
    let new = NewCase {
        regulation: stored.clone(),
        channel,
        provider,
        corporation,
        application: Application {
            applicant: DomainApplicant {
                iin: iin.as_str().to_owned(),
                full_name: input.applicant.full_name.trim().to_owned(),
            },
            documents: input
                .documents
                .into_iter()
                .map(|d| SubmittedDocument {
                    name: d.name.trim().to_owned(),
                    provided: d.provided,
                    expired: d.expired,
                })
                .collect(),
            attributes,
            applies_to: input.applies_to,
        },
        contacts: Contacts {
            phone: input.applicant.phone,
            email: input.applicant.email,
        },
        applicant_id,
        idempotency_key: input
            .idempotency_key
            .map(|k| format!("{}:{k}", p.subject.claim())),
        actor: domain_actor(p, name, applicant_iin),
    };
    let (created, _) = crate::graphql::mailboxes(ctx)?.create(key, new).await?;
    Case::try_from(created)
}

/// Moves a case held in the caller's mailbox: the engine decides whether it is the caller's
/// turn and what the move means.
async fn act(ctx: &Context<'_>, id: ID, version: i32, command: Command) -> Result<Case, ApiError> {
    let p = require(ctx, STAFF)?;
    let c = load_visible(ctx, &id).await?;
    // A caller acting on a version that is no longer current lost the race: CONFLICT, whoever
    // now holds the case.
    if c.version != version {
        return Err(crate::store::cases::stale(c.version, version));
    }
    let key = MailboxKey::of(&c).ok_or_else(|| ApiError::Rule {
        code: "INVALID_TRANSITION",
        message: "the case is closed".into(),
    })?;
    // The principal was read with the request: no second read of the account per move.
    let name = p.username.clone().unwrap_or_default();
    let action = command.action().name();
    let moved = crate::graphql::mailboxes(ctx)?
        .execute(
            key,
            Execute {
                case_id: c.id,
                current: Box::new(c),
                expected_version: version,
                command,
                actor: domain_actor(p, name, None),
            },
        )
        .await?;
    crate::metrics::moved(action);
    Case::try_from(moved)
}

/// Case mutations: each takes the case's current version and returns the updated case.
#[derive(Default)]
pub struct CaseMutation;

#[Object]
impl CaseMutation {
    /// The office registers an application handed in at the provider. Complete documents give
    /// a registration number and a receipt with the legal result date; missing or expired
    /// documents give a refusal receipt and close the case as refused at intake where the
    /// regulation provides that refusal at the office on those grounds (`Regulation.refusals`),
    /// and are `REFUSAL_NOT_PROVIDED` (nothing created) where it does not.
    async fn register_application(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The application.")] input: ApplicationInput,
    ) -> Result<Case, ApiError> {
        let p = require(ctx, STAFF)?;
        let state = state(ctx)?;
        let org = p.organisation_id.ok_or(ApiError::Forbidden)?;
        let provider = organisation::Entity::find_by_id(org)
            .one(&state.db)
            .await?
            .ok_or(ApiError::Forbidden)?;
        if let Some(code) = &input.provider {
            if *code != provider.code {
                return Err(ApiError::Forbidden);
            }
        }
        intake(
            ctx,
            p,
            DomainChannel::ProviderOffice,
            input,
            provider,
            None,
            None,
            None,
        )
        .await
    }

    /// A State Corporation operator accepts an application at the counter for a provider.
    /// Missing or expired documents refuse it at intake only where the regulation provides that
    /// refusal at the counter on those grounds; elsewhere `REFUSAL_NOT_PROVIDED`.
    async fn accept_at_corporation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The application; `provider` is required.")] input: ApplicationInput,
    ) -> Result<Case, ApiError> {
        let p = require(ctx, &[DomainRole::CorporationOperator])?;
        let state = state(ctx)?;
        let branch =
            organisation::Entity::find_by_id(p.organisation_id.ok_or(ApiError::Forbidden)?)
                .one(&state.db)
                .await?
                .ok_or(ApiError::Forbidden)?;
        let code = input
            .provider
            .clone()
            .ok_or_else(|| ApiError::BadUserInput("provider is required".into()))?;
        let provider = org_by_code(state, &code).await?;
        intake(
            ctx,
            p,
            DomainChannel::StateCorporation,
            input,
            provider,
            Some(branch),
            None,
            None,
        )
        .await
    }

    /// An applicant submits on the portal; the IIN of the application must be the caller's
    /// (`IIN_MISMATCH` otherwise). The case lands in the provider's office for registration.
    async fn submit_application(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The application; `provider` is required.")] input: ApplicationInput,
    ) -> Result<Case, ApiError> {
        let p = require(ctx, &[DomainRole::Applicant])?;
        let state = state(ctx)?;
        let me = applicant::Entity::find_by_id(p.subject.id())
            .one(&state.db)
            .await?
            .ok_or(ApiError::Unauthenticated)?;
        let code = input
            .provider
            .clone()
            .ok_or_else(|| ApiError::BadUserInput("provider is required".into()))?;
        let provider = org_by_code(state, &code).await?;
        intake(
            ctx,
            p,
            DomainChannel::Portal,
            input,
            provider,
            None,
            Some(me.id),
            Some(me.iin),
        )
        .await
    }

    /// The office registers a portal or State Corporation application that reached it; missing
    /// or expired documents refuse it at intake where the regulation provides that refusal (see
    /// `AvailableAction.refusal`), else `REFUSAL_NOT_PROVIDED` and nothing changes.
    async fn complete_intake(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Case id.")] case_id: ID,
        #[graphql(desc = "The case version you saw.")] version: i32,
        #[graphql(
            desc = "Documents missing (at most 50, each at most 200 characters).",
            default,
            validator(max_items = 50, list, chars_max_length = 200)
        )]
        missing: Vec<String>,
        #[graphql(
            desc = "Documents expired (at most 50, each at most 200 characters).",
            default,
            validator(max_items = 50, list, chars_max_length = 200)
        )]
        expired: Vec<String>,
    ) -> Result<Case, ApiError> {
        act(
            ctx,
            case_id,
            version,
            Command::CompleteIntake { missing, expired },
        )
        .await
    }

    /// The head's resolution: assigns an executor of the same organisation.
    async fn assign_executor(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Case id.")] case_id: ID,
        #[graphql(desc = "The case version you saw.")] version: i32,
        #[graphql(desc = "The executor's username.", validator(chars_max_length = 64))]
        executor: String,
    ) -> Result<Case, ApiError> {
        act(
            ctx,
            case_id,
            version,
            Command::AssignExecutor {
                name: executor,
                executor: None,
            },
        )
        .await
    }

    /// The assigned executor prepares the result, or a reasoned refusal (дәлелді жауап) when
    /// `refusalGrounds` are given and the regulation provides one on the case's channel
    /// (`AvailableAction.refusal`); else `REFUSAL_NOT_PROVIDED` and nothing changes.
    async fn prepare_result(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Case id.")] case_id: ID,
        #[graphql(desc = "The case version you saw.")] version: i32,
        #[graphql(
            desc = "Grounds of a reasoned refusal (at most 4000 characters); omit to prepare the result.",
            validator(chars_max_length = 4000)
        )]
        refusal_grounds: Option<String>,
        #[graphql(
            desc = "A note for the head (at most 2000 characters).",
            validator(chars_max_length = 2000)
        )]
        note: Option<String>,
    ) -> Result<Case, ApiError> {
        act(
            ctx,
            case_id,
            version,
            Command::Prepare {
                refusal_grounds,
                note,
            },
        )
        .await
    }

    /// The head signs the prepared result or refusal.
    async fn sign_result(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Case id.")] case_id: ID,
        #[graphql(desc = "The case version you saw.")] version: i32,
    ) -> Result<Case, ApiError> {
        act(ctx, case_id, version, Command::Sign).await
    }

    /// The head returns the draft to the executor with a comment; the case term keeps running.
    async fn return_to_executor(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Case id.")] case_id: ID,
        #[graphql(desc = "The case version you saw.")] version: i32,
        #[graphql(
            desc = "What to correct (at most 2000 characters).",
            validator(chars_max_length = 2000)
        )]
        comment: String,
    ) -> Result<Case, ApiError> {
        act(ctx, case_id, version, Command::ReturnToExecutor { comment }).await
    }

    /// The office registers and issues the result: to the applicant, to the portal, or to the
    /// State Corporation courier.
    async fn issue_result(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Case id.")] case_id: ID,
        #[graphql(desc = "The case version you saw.")] version: i32,
    ) -> Result<Case, ApiError> {
        act(ctx, case_id, version, Command::Issue).await
    }

    /// The State Corporation courier has delivered the documents to the provider's office.
    async fn deliver_to_provider(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Case id.")] case_id: ID,
        #[graphql(desc = "The case version you saw.")] version: i32,
    ) -> Result<Case, ApiError> {
        act(ctx, case_id, version, Command::DeliverToProvider).await
    }

    /// The State Corporation has received the result from the courier; it waits at the counter.
    async fn receive_result(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Case id.")] case_id: ID,
        #[graphql(desc = "The case version you saw.")] version: i32,
    ) -> Result<Case, ApiError> {
        act(ctx, case_id, version, Command::ReceiveResult).await
    }

    /// The operator issues the result to the applicant on presentation.
    async fn issue_at_corporation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Case id.")] case_id: ID,
        #[graphql(desc = "The case version you saw.")] version: i32,
    ) -> Result<Case, ApiError> {
        act(ctx, case_id, version, Command::IssueAtCorporation).await
    }

    /// An uncollected result goes back to the provider for storage (after the storage period).
    async fn return_uncollected(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Case id.")] case_id: ID,
        #[graphql(desc = "The case version you saw.")] version: i32,
    ) -> Result<Case, ApiError> {
        act(ctx, case_id, version, Command::ReturnUncollected).await
    }

    /// The State Corporation asks the provider for a stored result (one working day).
    async fn request_redelivery(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Case id.")] case_id: ID,
        #[graphql(desc = "The case version you saw.")] version: i32,
    ) -> Result<Case, ApiError> {
        act(ctx, case_id, version, Command::RequestRedelivery).await
    }

    /// The provider sends the stored result back to the State Corporation counter.
    async fn redeliver(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Case id.")] case_id: ID,
        #[graphql(desc = "The case version you saw.")] version: i32,
    ) -> Result<Case, ApiError> {
        act(ctx, case_id, version, Command::Redeliver).await
    }
}
