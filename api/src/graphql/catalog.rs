//! The catalog: regions, regulations (versioned) and the providers directory. Public.

use async_graphql::{ComplexObject, Context, Enum, Object, SimpleObject};
use domain::regulation as reg;
use entity::organisation;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::error::ApiError;
use crate::graphql::calendar::{DurationUnit, WorkingHoursInfo};
pub use crate::graphql::channel::Channel;
use crate::graphql::language::{chosen, name, Language};
use crate::graphql::refusals::Refusal;
use crate::graphql::scalars::{Date, Instant};
use crate::graphql::state;
use crate::store::regulation::StoredRegulation;

/// Queries about the catalog.
#[derive(Default)]
pub struct CatalogQuery;

/// A staff mailbox named by regulation steps.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "domain::regulation::Mailbox")]
pub enum Mailbox {
    /// The provider's office (кеңсе): registration and issue.
    Office,
    /// The provider's head (басшы, or an akim): resolution and signature.
    Head,
    /// The responsible executor (жауапты орындаушы): prepares the result.
    Executor,
    /// The State Corporation (operator and courier).
    Corporation,
}

/// The form in which a service is provided.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "domain::regulation::ServiceForm")]
pub enum ServiceForm {
    /// Electronic, fully automated.
    Electronic,
    /// Electronic, partially automated.
    PartiallyAutomated,
    /// Paper.
    Paper,
}

/// What kind of region.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "domain::region::RegionKind")]
pub enum RegionKind {
    /// An oblast (облыс).
    Oblast,
    /// A city of republican significance (республикалық маңызы бар қала).
    City,
}

/// A region of Kazakhstan.
#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct Region {
    /// Stable code, e.g. `mangystau`.
    code: String,
    /// ISO 3166-2:KZ code.
    iso_code: String,
    /// An oblast or a city of republican significance.
    kind: RegionKind,
    /// Name in Kazakh.
    name_kk: String,
    /// Name in English.
    name_en: String,
    /// Name in Russian (the usual Russian form).
    name_ru: Option<String>,
    /// IANA time zone, e.g. `Asia/Aqtau`.
    time_zone: String,
}

#[ComplexObject]
impl Region {
    /// The name in one language (the request's `Accept-Language` unless given).
    async fn name(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The language; the request's when omitted.")] language: Option<Language>,
    ) -> String {
        name(
            chosen(ctx, language),
            &self.name_kk,
            self.name_ru.as_deref(),
            &self.name_en,
        )
    }
}

impl From<&domain::region::Region> for Region {
    fn from(r: &domain::region::Region) -> Self {
        Region {
            code: r.code.clone(),
            iso_code: r.iso_code.clone(),
            kind: r.kind.into(),
            name_kk: r.name_kk.clone(),
            name_en: r.name_en.clone(),
            name_ru: r.name_ru.clone(),
            time_zone: r.time_zone.clone(),
        }
    }
}

/// A legal duration: value and unit.
#[derive(SimpleObject, Clone, Copy)]
pub struct Duration {
    /// How many units.
    value: i32,
    /// The unit.
    unit: DurationUnit,
}

impl From<reg::DurationSpec> for Duration {
    fn from(d: reg::DurationSpec) -> Self {
        Duration {
            value: d.value as i32,
            unit: d.unit.into(),
        }
    }
}

/// A reference to an act.
#[derive(SimpleObject, Clone)]
pub struct ActRef {
    /// Number.
    number: String,
    /// Date.
    date: Date,
    /// What it changed, where stated.
    scope: Option<String>,
}

impl From<&reg::ActRef> for ActRef {
    fn from(a: &reg::ActRef) -> Self {
        ActRef {
            number: a.number.clone(),
            date: a.date.into(),
            scope: a.scope.clone(),
        }
    }
}

/// The legal act approving a regulation.
#[derive(SimpleObject, Clone)]
pub struct Act {
    /// The issuing body, in Kazakh.
    issuer_kk: String,
    /// The issuing body, in English.
    issuer_en: String,
    /// Number.
    number: String,
    /// Date.
    date: Date,
    /// State registration number with the justice bodies, where stated.
    registration_number: Option<String>,
    /// State registration date, where stated.
    registration_date: Option<Date>,
    /// Earlier acts this one restates.
    restates: Vec<ActRef>,
    /// Amendments.
    amendments: Vec<ActRef>,
    /// The repealing act, if any.
    repealed_by: Option<ActRef>,
    /// The service standard implemented.
    standard: Option<String>,
    /// The source file of the act.
    source_file: String,
}

/// A result document of a service.
#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct ResultKind {
    /// Stable key, e.g. `receipt`.
    code: String,
    /// Name in Kazakh.
    name_kk: String,
    /// Name in English.
    name_en: String,
    /// Name in Russian: our translation unless `Regulation.nameRuOfficial` (see
    /// `data/i18n/ru.toml`).
    name_ru: Option<String>,
}

#[ComplexObject]
impl ResultKind {
    /// The name in one language (the request's `Accept-Language` unless given).
    async fn name(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The language; the request's when omitted.")] language: Option<Language>,
    ) -> String {
        name(
            chosen(ctx, language),
            &self.name_kk,
            self.name_ru.as_deref(),
            &self.name_en,
        )
    }
}

/// What a step does in the life of a case.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "domain::regulation::StepKind")]
pub enum StepKind {
    /// The State Corporation accepts the documents at the counter.
    CorporationIntake,
    /// The State Corporation sends the documents to the provider.
    CorporationTransfer,
    /// The provider accepts and registers the documents.
    Intake,
    /// The head's resolution: assigns an executor.
    Resolution,
    /// The executor prepares the result or a reasoned refusal.
    Prepare,
    /// The head signs (or returns to the executor).
    Sign,
    /// The office registers and issues the result.
    Issue,
    /// The State Corporation issues the result to the applicant.
    CorporationIssue,
}

/// A period of the year in which applications are accepted.
#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct AcceptanceWindow {
    /// Which applications it governs (an application attribute value, e.g. `first_grade`).
    applies_to: String,
    /// Description in Kazakh, from the act.
    label_kk: String,
    /// Description in English.
    label_en: String,
    /// First day, `MM-DD` (inclusive).
    from: String,
    /// Last day, `MM-DD` (inclusive).
    until: String,
    /// The paragraph of the act.
    paragraph: String,
    /// True when the act states the period as the term of the service: a case's legal result
    /// date is then no later than the window's last day.
    term_of_service: bool,
}

#[ComplexObject]
impl AcceptanceWindow {
    /// The description in one language (the request's `Accept-Language` unless given).
    async fn label(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The language; the request's when omitted.")] language: Option<Language>,
    ) -> String {
        domain::language::text(&self.label_en, Some(&self.label_kk), chosen(ctx, language))
    }
}

/// The overall legal term of a service.
#[derive(SimpleObject, Clone)]
pub struct LegalTerm {
    /// How many units.
    value: i32,
    /// The unit.
    unit: DurationUnit,
    /// The words of the act.
    as_written: String,
    /// The paragraph of the act.
    paragraph: String,
    /// The channels the act states it for; empty: every channel. On another channel the legal
    /// result date is the chain of the steps.
    channels: Vec<Channel>,
}

/// A duration that applies when a case attribute has a given value.
#[derive(SimpleObject, Clone)]
pub struct DurationVariant {
    /// The case attribute, e.g. `location`.
    attribute: String,
    /// The value selecting this duration, e.g. `elsewhere`.
    equals: String,
    /// The duration then.
    duration: Duration,
    /// The words of the act.
    as_written: String,
}

/// One ordered step of a regulation.
#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct Step {
    /// Position, from 1.
    order: i32,
    /// The mailbox that does it.
    mailbox: Mailbox,
    /// What it does in the life of a case.
    kind: StepKind,
    /// Who, in the act's words (Kazakh).
    actor_kk: String,
    /// Who, in English.
    actor_en: String,
    /// What is done, from the act (Kazakh).
    action_kk: String,
    /// What is done, in English.
    action_en: String,
    /// The legal duration.
    duration: Duration,
    /// Durations that depend on a case attribute.
    variants: Vec<DurationVariant>,
    /// The output that moves the case on.
    output_en: String,
    /// Result documents this step issues (`results.code`).
    issues: Vec<String>,
    /// The paragraph of the act.
    paragraph: String,
}

#[ComplexObject]
impl Step {
    /// Who does it, in one language (the request's `Accept-Language` unless given): Kazakh is
    /// the act's own wording, Russian our translation.
    async fn actor(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The language; the request's when omitted.")] language: Option<Language>,
    ) -> String {
        domain::language::text(&self.actor_en, Some(&self.actor_kk), chosen(ctx, language))
    }

    /// What is done, in one language: Kazakh is the act's own wording, Russian our translation.
    async fn action(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The language; the request's when omitted.")] language: Option<Language>,
    ) -> String {
        domain::language::text(
            &self.action_en,
            Some(&self.action_kk),
            chosen(ctx, language),
        )
    }

    /// The output that moves the case on, in one language (Kazakh and Russian are our
    /// translation of the English extract).
    async fn output(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The language; the request's when omitted.")] language: Option<Language>,
    ) -> String {
        domain::language::text(&self.output_en, None, chosen(ctx, language))
    }
}

/// One leg of the State Corporation channel.
#[derive(SimpleObject, Clone)]
pub struct Leg {
    /// The duration the act states; null where it states none (the leg then adds no time: it
    /// is due by the case's deadline).
    duration: Option<Duration>,
    /// True when the act states the duration.
    stated: bool,
    /// Where it is stated, or the reading applied.
    basis: String,
}

impl From<&reg::Leg> for Leg {
    fn from(l: &reg::Leg) -> Self {
        Leg {
            duration: l.duration().map(Into::into),
            stated: l.stated,
            basis: l.basis.clone(),
        }
    }
}

/// The State Corporation legs of a case.
#[derive(SimpleObject, Clone)]
pub struct CorporationLegs {
    /// Intake at the counter: receipt or refusal receipt.
    intake: Leg,
    /// The courier carries the documents to the provider's office.
    transfer_to_provider: Leg,
    /// The provider sends the result back.
    result_back: Leg,
    /// The operator issues the result on presentation.
    issue: Leg,
    /// Months an uncollected result is kept before it goes back to the provider.
    storage_months: i32,
    /// Where the storage rule is stated, or the reading applied.
    storage_basis: String,
    /// Return of an uncollected result to the provider.
    return_to_provider: Leg,
    /// Re-delivery from the provider on request after storage.
    redelivery: Leg,
}

/// Portal (egov.kz) processing.
#[derive(SimpleObject, Clone)]
pub struct PortalProcessing {
    /// The mailbox a portal application lands in for registration.
    lands_in: Mailbox,
    /// The mailbox whose holder signs the electronic result.
    result_signed_by: Mailbox,
    /// Processing of the request on the portal, where stated.
    request_processing: Option<Duration>,
    /// Where it is stated.
    paragraph: String,
}

/// What a case waits for.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "domain::case::Stage")]
pub enum Stage {
    /// The provider accepts and registers the documents.
    Intake,
    /// The head assigns an executor.
    Resolution,
    /// The executor prepares the result or a reasoned refusal.
    Prepare,
    /// The head signs or returns it.
    Sign,
    /// The office issues the result (or hands it to the courier).
    Issue,
    /// The courier carries the documents to the provider.
    CorporationTransfer,
    /// The courier carries the result back to the State Corporation.
    ResultBack,
    /// The result waits at the counter for the applicant.
    CorporationIssue,
    /// Uncollected, stored at the provider.
    ProviderStorage,
    /// The provider sends a stored result back on request.
    Redelivery,
    /// Nothing more: the case is closed.
    Closed,
}

/// Who holds a stop's mailbox.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "domain::case::Holder")]
pub enum Holder {
    /// The provider organisation.
    Provider,
    /// The State Corporation branch that accepted the application.
    Corporation,
}

/// One stop of a regulation's route on a channel.
#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct RouteStop {
    /// Position on the path, from 0; a case's `pathPosition` points here.
    position: i32,
    /// What the case waits for there.
    stage: Stage,
    /// The mailbox.
    mailbox: Mailbox,
    /// Whose mailbox.
    held_by: Holder,
    /// True for the stop where the application is accepted: it closes at once when the office
    /// or the counter registers the application.
    at_intake: bool,
    /// The legal duration, for the attributes' default values (see `steps` for the variants);
    /// null for the counter, where the result waits for the applicant (see `corporation`'s
    /// storage).
    duration: Option<Duration>,
    /// The regulation step it implements, if any (`steps[].order`).
    step_order: Option<i32>,
    /// The State Corporation leg it implements, if any (`intake`, `transfer_to_provider`,
    /// `result_back`, `issue`).
    leg: Option<String>,
    /// What it produces, in English: the act's stated output of the step, or what the leg hands on.
    produces: String,
    /// Result documents it issues (`results[].code`).
    issues: Vec<String>,
}

#[ComplexObject]
impl RouteStop {
    /// What it produces, in one language (the request's `Accept-Language` unless given).
    async fn output(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The language; the request's when omitted.")] language: Option<Language>,
    ) -> String {
        domain::language::text(&self.produces, None, chosen(ctx, language))
    }
}

/// A regulation's route on one channel: every stop a case passes, in order, so a client can
/// draw the path and the case's progress along it.
#[derive(SimpleObject, Clone)]
pub struct ChannelRoute {
    /// The channel the application comes in through.
    channel: Channel,
    /// The stops, in order.
    stops: Vec<RouteStop>,
}

/// The routes of a regulation on each of its channels, for the attributes' default values.
fn routes(r: &reg::Regulation) -> Vec<ChannelRoute> {
    let attrs = domain::engine::attributes(r, &Default::default()).unwrap_or_default();
    r.apply_channels
        .iter()
        .map(|c| ChannelRoute {
            channel: (*c).into(),
            stops: {
                let intake = matches!(domain::case::creation_stop(r, *c, &attrs), Ok(Some(_)));
                domain::case::path(r, *c, &attrs)
                    .unwrap_or_default()
                    .iter()
                    .enumerate()
                    .map(|(i, s)| {
                        let (produces, issues) = domain::case::stop_output(r, s);
                        RouteStop {
                            position: i as i32,
                            stage: s.stage.into(),
                            mailbox: s.mailbox.into(),
                            held_by: s.holder.into(),
                            at_intake: i == 0 && intake,
                            duration: s.duration.map(Into::into),
                            step_order: s.step_order.map(|o| o as i32),
                            leg: s.leg.map(str::to_owned),
                            produces,
                            issues,
                        }
                    })
                    .collect()
            },
        })
        .collect()
}

/// A reading chosen where the act is ambiguous or inconsistent.
#[derive(SimpleObject, Clone)]
pub struct Reading {
    /// The paragraph of the act.
    paragraph: String,
    /// What the text says, and what qyzmet encodes.
    text: String,
}

/// One version of a regulation (регламент): who does what, in which order, within which legal
/// duration, through which channels.
#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct Regulation {
    /// Stable code, one per region and service.
    code: String,
    /// Version; a changed file is stored as the next version, old versions are kept.
    version: i32,
    /// The service it implements, shared by the same service in other regions.
    service_code: String,
    /// Name in Kazakh, verbatim from the act.
    name_kk: String,
    /// Name in English.
    name_en: String,
    /// Name in Russian (see `nameRuOfficial`).
    name_ru: Option<String>,
    /// Whether `nameRu` and the results' Russian names are an official text; false: they are
    /// our translation, for display only (`data/i18n/ru.toml`).
    name_ru_official: bool,
    #[graphql(skip)]
    region_code: String,
    /// The approving act.
    act: Act,
    /// Kinds of organisation that provide the service.
    provider_kinds: Vec<String>,
    /// Where applications are accepted.
    apply_channels: Vec<Channel>,
    /// Where results are issued.
    result_channels: Vec<Channel>,
    /// Forms of the service.
    service_forms: Vec<ServiceForm>,
    /// Result documents.
    results: Vec<ResultKind>,
    /// Refusals.
    refusals: Vec<Refusal>,
    /// When applications are accepted; empty means all year.
    acceptance_windows: Vec<AcceptanceWindow>,
    /// The overall legal term, where the act states one.
    legal_term: Option<LegalTerm>,
    /// Ordered provider steps.
    steps: Vec<Step>,
    /// State Corporation legs, when that channel exists.
    corporation: Option<CorporationLegs>,
    /// Portal processing, when that channel exists.
    portal: Option<PortalProcessing>,
    /// Readings chosen where the act is ambiguous, citing the paragraph.
    readings: Vec<Reading>,
    /// The route on each channel: the ordered stops with mailbox, duration and what each
    /// produces.
    routes: Vec<ChannelRoute>,
    /// SHA-256 of the regulation file.
    content_hash: String,
    /// Where the file came from.
    source: String,
    /// When this version was stored.
    loaded_at: Instant,
}

#[ComplexObject]
impl Regulation {
    /// The service's name in one language (the request's `Accept-Language` unless given).
    async fn name(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The language; the request's when omitted.")] language: Option<Language>,
    ) -> String {
        name(
            chosen(ctx, language),
            &self.name_kk,
            self.name_ru.as_deref(),
            &self.name_en,
        )
    }

    /// The region whose akimat approved it.
    async fn region(&self, ctx: &Context<'_>) -> Result<Region, ApiError> {
        let state = state(ctx)?;
        state
            .regions
            .get(&self.region_code)
            .map(Region::from)
            .ok_or_else(|| {
                ApiError::internal(std::io::Error::other("regulation of an unknown region"))
            })
    }
}

fn channels(cs: &[reg::Channel]) -> Vec<Channel> {
    cs.iter().map(|c| (*c).into()).collect()
}

impl From<&StoredRegulation> for Regulation {
    fn from(s: &StoredRegulation) -> Self {
        let r = &s.regulation;
        let ru = domain::language::russian(&r.code);
        Regulation {
            code: r.code.clone(),
            version: s.row.version,
            service_code: r.service.clone(),
            name_kk: r.name_kk.clone(),
            name_en: r.name_en.clone(),
            name_ru: ru.map(|x| x.name.clone()),
            name_ru_official: ru.is_some_and(|x| x.official),
            region_code: r.region.clone(),
            act: Act {
                issuer_kk: r.act.issuer_kk.clone(),
                issuer_en: r.act.issuer_en.clone(),
                number: r.act.number.clone(),
                date: r.act.date.into(),
                registration_number: r.act.registration.as_ref().map(|g| g.number.clone()),
                registration_date: r
                    .act
                    .registration
                    .as_ref()
                    .and_then(|g| g.date)
                    .map(Into::into),
                restates: r.act.restates.iter().map(ActRef::from).collect(),
                amendments: r.act.amendments.iter().map(ActRef::from).collect(),
                repealed_by: r.act.repealed_by.as_ref().map(ActRef::from),
                standard: r.act.standard.clone(),
                source_file: r.act.source_file.clone(),
            },
            provider_kinds: r.provider_kinds.clone(),
            apply_channels: channels(&r.apply_channels),
            result_channels: channels(&r.result_channels),
            service_forms: r.service_forms.iter().map(|f| (*f).into()).collect(),
            results: r
                .results
                .iter()
                .map(|x| ResultKind {
                    code: x.code.clone(),
                    name_kk: x.name_kk.clone(),
                    name_en: x.name_en.clone(),
                    name_ru: ru.and_then(|ru| ru.results.get(&x.code).cloned()),
                })
                .collect(),
            refusals: r.refusals.iter().map(Refusal::from).collect(),
            acceptance_windows: r
                .acceptance_windows
                .iter()
                .map(|w| AcceptanceWindow {
                    applies_to: w.applies_to.clone(),
                    label_kk: w.label_kk.clone(),
                    label_en: w.label_en.clone(),
                    from: w.from.clone(),
                    until: w.until.clone(),
                    paragraph: w.paragraph.clone(),
                    term_of_service: w.term_of_service,
                })
                .collect(),
            legal_term: r.legal_term.as_ref().map(|t| LegalTerm {
                value: t.value as i32,
                unit: t.unit.into(),
                as_written: t.as_written.clone(),
                paragraph: t.paragraph.clone(),
                channels: channels(&t.channels),
            }),
            steps: r
                .steps
                .iter()
                .map(|s| Step {
                    order: s.order as i32,
                    mailbox: s.mailbox.into(),
                    kind: s.kind.into(),
                    actor_kk: s.actor_kk.clone(),
                    actor_en: s.actor_en.clone(),
                    action_kk: s.action_kk.clone(),
                    action_en: s.action_en.clone(),
                    duration: s.duration.into(),
                    variants: s
                        .variants
                        .iter()
                        .map(|v| DurationVariant {
                            attribute: v.attribute.clone(),
                            equals: v.equals.clone(),
                            duration: v.duration.into(),
                            as_written: v.as_written.clone(),
                        })
                        .collect(),
                    output_en: s.output_en.clone(),
                    issues: s.issues.clone(),
                    paragraph: s.paragraph.clone(),
                })
                .collect(),
            corporation: r.corporation.as_ref().map(|c| CorporationLegs {
                intake: (&c.intake).into(),
                transfer_to_provider: (&c.transfer_to_provider).into(),
                result_back: (&c.result_back).into(),
                issue: (&c.issue).into(),
                storage_months: c.storage_months as i32,
                storage_basis: c.storage_basis.clone(),
                return_to_provider: (&c.return_to_provider).into(),
                redelivery: (&c.redelivery).into(),
            }),
            portal: r.portal.as_ref().map(|p| PortalProcessing {
                lands_in: p.lands_in.into(),
                result_signed_by: p.result_signed_by.into(),
                request_processing: p.request_processing.map(Duration::from),
                paragraph: p.paragraph.clone(),
            }),
            readings: r
                .readings
                .iter()
                .map(|x| Reading {
                    paragraph: x.paragraph.clone(),
                    text: x.text.clone(),
                })
                .collect(),
            routes: routes(r),
            content_hash: s.row.content_hash.clone(),
            source: s.row.source.clone(),
            loaded_at: s.row.loaded_at.into(),
        }
    }
}

/// An organisation: a service provider or a State Corporation branch.
#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct Organisation {
    /// Stable code.
    code: String,
    /// Provider kind (`SCHOOL`, `COLLEGE`, `EDUCATION_DEPARTMENT`…) or `STATE_CORPORATION`.
    kind: String,
    /// Name in Kazakh.
    name_kk: String,
    /// Name in English.
    name_en: String,
    /// Name in Russian: our translation unless the organisation's own was recorded.
    name_ru: Option<String>,
    /// District or city, where recorded.
    district: Option<String>,
    #[graphql(skip)]
    region_code: String,
    /// Daily working hours (its own, or the default for its kind).
    working_hours: WorkingHoursInfo,
}

#[ComplexObject]
impl Organisation {
    /// The name in one language (the request's `Accept-Language` unless given); Russian falls
    /// back to Kazakh where none is recorded.
    async fn name(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The language; the request's when omitted.")] language: Option<Language>,
    ) -> String {
        name(
            chosen(ctx, language),
            &self.name_kk,
            self.name_ru.as_deref(),
            &self.name_en,
        )
    }

    /// The region it belongs to.
    async fn region(&self, ctx: &Context<'_>) -> Result<Region, ApiError> {
        state(ctx)?
            .regions
            .get(&self.region_code)
            .map(Region::from)
            .ok_or_else(|| {
                ApiError::internal(std::io::Error::other("organisation of an unknown region"))
            })
    }
}

impl TryFrom<organisation::Model> for Organisation {
    type Error = ApiError;
    fn try_from(m: organisation::Model) -> Result<Self, ApiError> {
        let hours = crate::store::directory::working_hours(&m).map_err(ApiError::internal)?;
        Ok(Organisation {
            code: m.code,
            kind: m.kind,
            name_kk: m.name_kk,
            name_en: m.name_en,
            name_ru: m.name_ru,
            district: m.district,
            region_code: m.region_code,
            working_hours: hours.into(),
        })
    }
}

fn known_region(ctx: &Context<'_>, code: &Option<String>) -> Result<(), ApiError> {
    match code {
        Some(c) if !state(ctx)?.regions.contains_key(c) => {
            Err(ApiError::BadUserInput(format!("unknown region {c:?}")))
        }
        _ => Ok(()),
    }
}

#[Object]
impl CatalogQuery {
    /// All regions of Kazakhstan: oblasts and cities of republican significance.
    async fn regions(&self, ctx: &Context<'_>) -> Result<Vec<Region>, ApiError> {
        Ok(state(ctx)?.regions.values().map(Region::from).collect())
    }

    /// The regulations in force (newest version of each), optionally by region, service and
    /// application channel, ordered by code.
    async fn regulations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Region code, e.g. `mangystau`.")] region: Option<String>,
        #[graphql(desc = "Service code, e.g. `externat-permission`.")] service: Option<String>,
        #[graphql(desc = "Only regulations accepting applications through this channel.")]
        channel: Option<Channel>,
    ) -> Result<Vec<Regulation>, ApiError> {
        known_region(ctx, &region)?;
        let state = state(ctx)?;
        let all = state
            .regulations
            .latest(&state.db, region.as_deref(), service.as_deref())
            .await?;
        Ok(all
            .iter()
            .filter(|s| channel.is_none_or(|c| s.regulation.accepts(c.into())))
            .map(Regulation::from)
            .collect())
    }

    /// One regulation: the given version, or the newest. `NOT_FOUND` when there is none.
    async fn regulation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Regulation code.")] code: String,
        #[graphql(desc = "Version; the newest when omitted.")] version: Option<i32>,
    ) -> Result<Regulation, ApiError> {
        let state = state(ctx)?;
        state
            .regulations
            .get(&state.db, &code, version)
            .await?
            .map(|s| Regulation::from(&s))
            .ok_or_else(|| match version {
                Some(v) => ApiError::NotFound(format!("no regulation {code:?} version {v}")),
                None => ApiError::NotFound(format!("no regulation {code:?}")),
            })
    }

    /// Every stored version of one regulation, oldest first.
    async fn regulation_versions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Regulation code.")] code: String,
    ) -> Result<Vec<Regulation>, ApiError> {
        let state = state(ctx)?;
        Ok(state
            .regulations
            .versions(&state.db, &code)
            .await?
            .iter()
            .map(Regulation::from)
            .collect())
    }

    /// Organisations: service providers and State Corporation branches, by region and kind.
    async fn providers(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Region code.")] region: Option<String>,
        #[graphql(desc = "Kind, e.g. `SCHOOL` or `STATE_CORPORATION`.")] kind: Option<String>,
    ) -> Result<Vec<Organisation>, ApiError> {
        known_region(ctx, &region)?;
        if let Some(k) = &kind {
            if !domain::organisation::is_known_kind(k) {
                return Err(ApiError::BadUserInput(format!(
                    "unknown organisation kind {k:?}"
                )));
            }
        }
        let state = state(ctx)?;
        let mut q = organisation::Entity::find().order_by_asc(organisation::Column::Code);
        if let Some(r) = region {
            q = q.filter(organisation::Column::RegionCode.eq(r));
        }
        if let Some(k) = kind {
            q = q.filter(organisation::Column::Kind.eq(k));
        }
        q.all(&state.db)
            .await?
            .into_iter()
            .map(Organisation::try_from)
            .collect()
    }
}
