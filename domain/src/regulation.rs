//! Regulations (регламенттер) as data: one TOML file per regulation, checked whole before it is
//! used. A file that fails any check is refused entirely, with an error naming the file and the
//! field; nothing of it is loaded.

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::deadline::{DurationUnit, LegalDuration};

macro_rules! bundled {
    ($name:literal) => {
        (
            concat!("data/regulations/", $name, ".toml"),
            include_str!(concat!("../../data/regulations/", $name, ".toml")),
        )
    };
}

/// Where a case is handled: the staff mailboxes a regulation's steps name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
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

/// Where applications are accepted and results issued.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Channel {
    /// The provider's own office.
    ProviderOffice,
    /// The State Corporation "Government for Citizens" (ЦОН).
    StateCorporation,
    /// The egov.kz portal.
    Portal,
}

/// What a step does in the life of a case. The engine is generic over these kinds; the
/// regulation file names the kind of each step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StepKind {
    /// The State Corporation accepts the documents at the counter.
    CorporationIntake,
    /// The State Corporation sends the documents to the provider.
    CorporationTransfer,
    /// The provider accepts and registers the documents (completeness check, receipt).
    Intake,
    /// The head's resolution: assigns an executor.
    Resolution,
    /// The executor prepares the result or a reasoned refusal.
    Prepare,
    /// The head signs (or returns to the executor).
    Sign,
    /// The office registers and issues the result (to the applicant, the portal or the
    /// State Corporation).
    Issue,
    /// The State Corporation issues the result to the applicant.
    CorporationIssue,
}

impl StepKind {
    /// The mailbox a step of this kind may sit in.
    pub fn allowed_mailboxes(self) -> &'static [Mailbox] {
        match self {
            StepKind::CorporationIntake
            | StepKind::CorporationTransfer
            | StepKind::CorporationIssue => &[Mailbox::Corporation],
            StepKind::Intake => &[Mailbox::Office, Mailbox::Executor],
            StepKind::Resolution | StepKind::Sign => &[Mailbox::Head],
            StepKind::Prepare => &[Mailbox::Executor],
            StepKind::Issue => &[Mailbox::Office],
        }
    }
}

/// The form in which the service is provided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ServiceForm {
    /// Electronic, fully automated.
    Electronic,
    /// Electronic, partially automated.
    PartiallyAutomated,
    /// Paper.
    Paper,
}

/// A legal duration as written in a regulation file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DurationSpec {
    /// How many units; must be at least 1.
    pub value: u32,
    /// The unit.
    pub unit: DurationUnit,
}

impl DurationSpec {
    /// As a legal duration.
    pub fn legal(&self) -> LegalDuration {
        LegalDuration {
            value: self.value,
            unit: self.unit,
        }
    }
}

/// A reference to an act: number and date.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActRef {
    /// The act's number.
    pub number: String,
    /// The act's date.
    pub date: NaiveDate,
    /// What it changed, where stated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// State registration of an act with the justice bodies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    /// Registration number.
    pub number: String,
    /// Registration date, where stated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<NaiveDate>,
    /// The registering body, where stated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// The legal act that approves the regulation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Act {
    /// The issuing body, in Kazakh.
    pub issuer_kk: String,
    /// The issuing body, in English.
    pub issuer_en: String,
    /// The act's number.
    pub number: String,
    /// The act's date.
    pub date: NaiveDate,
    /// State registration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration: Option<Registration>,
    /// Earlier acts this one restates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restates: Vec<ActRef>,
    /// Amendments to the regulation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amendments: Vec<ActRef>,
    /// The act that repealed it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repealed_by: Option<ActRef>,
    /// The service standard the regulation implements.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standard: Option<String>,
    /// The source file under shared/acts.
    pub source_file: String,
}

/// A result the service produces.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultKind {
    /// Stable key, e.g. `receipt`, `admission_order`.
    pub code: String,
    /// Name in Kazakh.
    pub name_kk: String,
    /// Name in English.
    pub name_en: String,
}

/// A refusal the act provides: of which kind, on which channel, by whom, on which grounds, and
/// where the act says so. From format 2 on, these are rules: the engine allows no other refusal
/// (`REFUSAL_NOT_PROVIDED`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefusalKind {
    /// `INTAKE_REFUSAL` (a refusal receipt at intake) or `REASONED_REFUSAL` (дәлелді жауап).
    pub kind: RefusalCode,
    /// The channels of the cases it applies to.
    pub channels: Vec<Channel>,
    /// Who refuses: the State Corporation at its counter, or the provider (its office at
    /// intake, its executor and head for a reasoned refusal). Format 1 files do not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<RefusedBy>,
    /// The grounds the act names. Format 1 files do not say.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grounds: Vec<RefusalGround>,
    /// True when the act joins the grounds with "and" (қолданыстағы мерзімі өткен **және**
    /// толық емес): the refusal needs every ground at once; false when any one suffices.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub all_grounds: bool,
    /// The paragraph of the act. Format 1 files do not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paragraph: Option<String>,
    /// The grounds, as the act states them.
    pub grounds_en: String,
}

impl RefusalKind {
    /// Whether the rule applies to a case on `channel` refused by `by`.
    pub fn applies(&self, kind: RefusalCode, channel: Channel, by: RefusedBy) -> bool {
        self.kind == kind && self.channels.contains(&channel) && self.by == Some(by)
    }
}

/// The two kinds of refusal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RefusalCode {
    /// Refusal to accept the documents, with a refusal receipt.
    IntakeRefusal,
    /// A reasoned refusal (дәлелді жауап) after examination.
    ReasonedRefusal,
}

/// Who gives a refusal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RefusedBy {
    /// The State Corporation employee at the counter.
    StateCorporation,
    /// The provider: its office at intake, its executor and head for a reasoned refusal.
    Provider,
}

/// A ground of refusal the acts name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RefusalGround {
    /// The package of documents is incomplete (толық емес құжаттар топтамасы).
    IncompletePackage,
    /// Documents whose validity has expired (қолданылу мерзімі өткен құжаттар).
    ExpiredDocuments,
    /// The grounds the service's Standard lists (a reasoned refusal).
    StandardGrounds,
}

/// A period of the year in which applications are accepted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptanceWindow {
    /// Which applications it governs (an application attribute value, e.g. `first_grade`).
    pub applies_to: String,
    /// Description in Kazakh, from the act.
    pub label_kk: String,
    /// Description in English.
    pub label_en: String,
    /// First day, `MM-DD` (inclusive).
    pub from: String,
    /// Last day, `MM-DD` (inclusive).
    pub until: String,
    /// The paragraph of the act.
    pub paragraph: String,
    /// True when the act states the period as the *term of the service* (мемлекеттік қызметті
    /// көрсету мерзімдері), not only as when applications are taken: then the legal result
    /// date of an application in it is no later than the close of business of its last day.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub term_of_service: bool,
}

impl AcceptanceWindow {
    /// The last day of the window that `date` falls in (the window's `until` on or after it).
    pub fn last_day(&self, date: NaiveDate) -> Option<NaiveDate> {
        let (m, d) = parse_md(&self.until).ok()?;
        let this_year = NaiveDate::from_ymd_opt(date.year(), m, d)
            .or_else(|| NaiveDate::from_ymd_opt(date.year(), m, d - 1))?;
        if this_year >= date {
            Some(this_year)
        } else {
            NaiveDate::from_ymd_opt(date.year() + 1, m, d)
                .or_else(|| NaiveDate::from_ymd_opt(date.year() + 1, m, d - 1))
        }
    }

    /// Whether `date` falls inside the window (windows may run across New Year).
    pub fn contains(&self, date: NaiveDate) -> bool {
        let key = (date.month(), date.day());
        let (Ok(from), Ok(until)) = (parse_md(&self.from), parse_md(&self.until)) else {
            return false;
        };
        if from <= until {
            from <= key && key <= until
        } else {
            key >= from || key <= until
        }
    }
}

fn parse_md(md: &str) -> Result<(u32, u32), String> {
    let (m, d) = md
        .split_once('-')
        .ok_or_else(|| format!("{md:?} is not MM-DD"))?;
    let m: u32 = m.parse().map_err(|_| format!("{md:?} is not MM-DD"))?;
    let d: u32 = d.parse().map_err(|_| format!("{md:?} is not MM-DD"))?;
    // 2024 is a leap year, so 02-29 is accepted.
    NaiveDate::from_ymd_opt(2024, m, d)
        .ok_or_else(|| format!("{md:?} is not a day of the year"))?;
    Ok((m, d))
}

/// The overall legal term of the service, where the act states one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LegalTerm {
    /// How many units.
    pub value: u32,
    /// The unit.
    pub unit: DurationUnit,
    /// The words of the act.
    pub as_written: String,
    /// The paragraph of the act.
    pub paragraph: String,
    /// The channels the act states it for; empty: every channel. On another channel the
    /// result date is the chain of the steps.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<Channel>,
}

impl LegalTerm {
    /// Whether the act states this term for cases on `channel`.
    pub fn applies_to(&self, channel: Channel) -> bool {
        self.channels.is_empty() || self.channels.contains(&channel)
    }
}

/// A duration that applies when a case attribute has a given value (Atyrau: by location).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DurationVariant {
    /// The case attribute, e.g. `location`.
    pub attribute: String,
    /// The value that selects this duration, e.g. `elsewhere`.
    pub equals: String,
    /// The duration then.
    pub duration: DurationSpec,
    /// The words of the act.
    pub as_written: String,
}

/// One ordered step inside the provider (or at the State Corporation where the act lists it
/// among the provider's steps).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Position, 1-based and consecutive.
    pub order: u32,
    /// The mailbox that does it.
    pub mailbox: Mailbox,
    /// What it does in the life of a case.
    pub kind: StepKind,
    /// Who, in the act's words (Kazakh).
    pub actor_kk: String,
    /// Who, in English.
    pub actor_en: String,
    /// What is done, from the act (Kazakh).
    pub action_kk: String,
    /// What is done, in English.
    pub action_en: String,
    /// The legal duration.
    pub duration: DurationSpec,
    /// Durations that depend on a case attribute.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<DurationVariant>,
    /// The output that moves the case on (English).
    pub output_en: String,
    /// Result documents this step issues (`results[].code`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub issues: Vec<String>,
    /// The paragraph of the act.
    pub paragraph: String,
}

impl Step {
    /// The duration for a case with these attributes.
    pub fn duration_for(&self, attribute: impl Fn(&str) -> Option<String>) -> DurationSpec {
        self.variants
            .iter()
            .find(|v| attribute(&v.attribute).as_deref() == Some(v.equals.as_str()))
            .map_or(self.duration, |v| v.duration)
    }
}

/// One leg of the State Corporation channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Leg {
    /// How many units, where the leg has a duration. From format 2 on, only a leg whose
    /// duration the act states has one: a leg the act does not time adds no time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<u32>,
    /// The unit, with `value`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<DurationUnit>,
    /// True when the act states this duration; false when it states none.
    pub stated: bool,
    /// The provider step (its `order`) whose own duration already covers this leg, as when the
    /// act's last step reads "issues it to the applicant or sends it to the State Corporation by
    /// courier": then the leg is no stop of its own and adds no time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within_step: Option<u32>,
    /// Where it is stated, or the reading applied.
    pub basis: String,
}

impl Leg {
    /// Its duration, where it has one.
    pub fn duration(&self) -> Option<DurationSpec> {
        match (self.value, self.unit) {
            (Some(value), Some(unit)) => Some(DurationSpec { value, unit }),
            _ => None,
        }
    }
}

/// The State Corporation legs of a case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorporationLegs {
    /// Intake at the counter: receipt or refusal receipt.
    pub intake: Leg,
    /// The courier carries the documents to the provider's office.
    pub transfer_to_provider: Leg,
    /// The provider sends the result back.
    pub result_back: Leg,
    /// The operator issues the result on presentation.
    pub issue: Leg,
    /// Months an uncollected result is kept before going back to the provider.
    pub storage_months: u32,
    /// Where the storage rule is stated, or the reading applied.
    pub storage_basis: String,
    /// Return of the uncollected result to the provider.
    pub return_to_provider: Leg,
    /// Re-delivery from the provider on request after storage.
    pub redelivery: Leg,
}

/// Portal (egov.kz) processing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortalProcessing {
    /// The mailbox a portal application lands in for registration.
    pub lands_in: Mailbox,
    /// The mailbox whose holder signs the electronic result.
    pub result_signed_by: Mailbox,
    /// Processing of the request on the portal, where stated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_processing: Option<DurationSpec>,
    /// Where it is stated.
    pub paragraph: String,
}

/// A reading chosen where the act is ambiguous or inconsistent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reading {
    /// The paragraph of the act.
    pub paragraph: String,
    /// What the text says, and what qyzmet encodes.
    pub text: String,
}

/// The kinds of organisation that provide services.
pub const PROVIDER_KINDS: [&str; 6] = [
    "SCHOOL",
    "COLLEGE",
    "EDUCATION_ORGANISATION",
    "EDUCATION_DEPARTMENT",
    "LOCAL_EXECUTIVE_BODY",
    "RURAL_AKIM",
];

/// One regulation, as in its file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Regulation {
    /// The file format: 1 (refusals a catalogue, legs may carry time the act does not state;
    /// versions stored before format 2 are still read so) or 2 (refusals are rules, a leg
    /// carries only the time the act states). New files must be format 2.
    #[serde(default = "format_one")]
    pub format: u32,
    /// Stable code: one per region × service.
    pub code: String,
    /// The service it implements, shared across regions.
    pub service: String,
    /// Region code (see the regions directory).
    pub region: String,
    /// Name in Kazakh, verbatim from the act.
    pub name_kk: String,
    /// Name in English.
    pub name_en: String,
    /// The approving act.
    pub act: Act,
    /// Kinds of organisation that provide the service.
    pub provider_kinds: Vec<String>,
    /// Where applications are accepted.
    pub apply_channels: Vec<Channel>,
    /// Where results are issued.
    pub result_channels: Vec<Channel>,
    /// Forms of the service.
    pub service_forms: Vec<ServiceForm>,
    /// Result documents.
    pub results: Vec<ResultKind>,
    /// Refusals.
    #[serde(default)]
    pub refusals: Vec<RefusalKind>,
    /// When applications are accepted (empty: all year).
    #[serde(default)]
    pub acceptance_windows: Vec<AcceptanceWindow>,
    /// The overall legal term, where the act states one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_term: Option<LegalTerm>,
    /// Ordered provider steps.
    pub steps: Vec<Step>,
    /// State Corporation legs; required when the State Corporation is a channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corporation: Option<CorporationLegs>,
    /// Portal processing; required when the portal is a channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub portal: Option<PortalProcessing>,
    /// Readings chosen where the act is ambiguous.
    #[serde(default)]
    pub readings: Vec<Reading>,
    /// Attributes of an application that the regulation depends on, each with its allowed
    /// values; an application may carry only these.
    #[serde(default)]
    pub attributes: Vec<AttributeDomain>,
}

fn format_one() -> u32 {
    1
}

/// The newest regulation file format, the one new files must have.
pub const CURRENT_FORMAT: u32 = 2;

/// An attribute an application may carry, with the values the regulation knows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeDomain {
    /// Name, e.g. `location`.
    pub name: String,
    /// The allowed values, e.g. `local`, `elsewhere`.
    pub values: Vec<String>,
    /// The value when the application does not give one.
    pub default: String,
    /// Where the act draws the distinction.
    pub paragraph: String,
}

/// A regulation file that cannot be used. Names the file and the field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {field}: {reason}")]
pub struct RegulationError {
    /// The file (or source name).
    pub file: String,
    /// The field path, e.g. `steps[2].duration.unit`.
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

impl RegulationError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        "INVALID_REGULATION"
    }
}

impl Regulation {
    /// Parses and validates a new regulation file: as [`Regulation::parse`], and it must be of
    /// the current format ([`CURRENT_FORMAT`]). Stored versions of an older format are read
    /// with [`Regulation::parse`].
    pub fn parse_new(file: &str, text: &str) -> Result<Regulation, RegulationError> {
        let r = Regulation::parse(file, text)?;
        if r.format != CURRENT_FORMAT {
            return Err(RegulationError {
                file: file.to_owned(),
                field: "format".into(),
                reason: format!(
                    "a new regulation file must be format = {CURRENT_FORMAT} (refusals as rules, legs with only the time the act states); found {}",
                    r.format
                ),
            });
        }
        Ok(r)
    }

    /// Parses and validates one regulation file.
    pub fn parse(file: &str, text: &str) -> Result<Regulation, RegulationError> {
        let err = |field: String, reason: String| RegulationError {
            file: file.to_owned(),
            field,
            reason,
        };
        let de =
            toml::Deserializer::parse(text).map_err(|e| err("(file)".into(), e.to_string()))?;
        let regulation: Regulation = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let message = inner.message().to_owned();
            let at = inner
                .span()
                .map(|s| {
                    format!(
                        " (at line {})",
                        1 + text[..s.start.min(text.len())].matches('\n').count()
                    )
                })
                .unwrap_or_default();
            err(
                if path == "." { "(file)".into() } else { path },
                format!("{message}{at}"),
            )
        })?;
        regulation
            .validate()
            .map_err(|(field, reason)| err(field, reason))?;
        Ok(regulation)
    }

    /// Checks everything serde cannot: durations, order, channels and their legs, references.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let fail = |f: &str, r: String| Err((f.to_owned(), r));
        let code_like = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        };
        if !code_like(&self.code) {
            return fail(
                "code",
                format!(
                    "{:?} must be lowercase letters, digits and dashes",
                    self.code
                ),
            );
        }
        if !code_like(&self.service) {
            return fail(
                "service",
                format!(
                    "{:?} must be lowercase letters, digits and dashes",
                    self.service
                ),
            );
        }
        for (f, v) in [("name_kk", &self.name_kk), ("name_en", &self.name_en)] {
            if v.trim().is_empty() {
                return fail(f, "must not be empty".into());
            }
        }
        if self.provider_kinds.is_empty() {
            return fail(
                "provider_kinds",
                "at least one provider kind is required".into(),
            );
        }
        for (i, k) in self.provider_kinds.iter().enumerate() {
            if !PROVIDER_KINDS.contains(&k.as_str()) {
                return fail(
                    &format!("provider_kinds[{i}]"),
                    format!("unknown kind {k:?}; expected one of {PROVIDER_KINDS:?}"),
                );
            }
        }
        if self.apply_channels.is_empty() {
            return fail("apply_channels", "at least one channel is required".into());
        }
        if self.result_channels.is_empty() {
            return fail("result_channels", "at least one channel is required".into());
        }
        if self.results.is_empty() {
            return fail("results", "at least one result is required".into());
        }
        if self.steps.is_empty() {
            return fail("steps", "at least one step is required".into());
        }
        let mut result_codes = BTreeSet::new();
        for (i, r) in self.results.iter().enumerate() {
            if !result_codes.insert(r.code.as_str()) {
                return fail(
                    &format!("results[{i}].code"),
                    format!("duplicate {:?}", r.code),
                );
            }
        }
        for (i, s) in self.steps.iter().enumerate() {
            let at = |f: &str| format!("steps[{i}].{f}");
            if s.order != i as u32 + 1 {
                return fail(
                    &at("order"),
                    format!("expected {}, found {}", i + 1, s.order),
                );
            }
            if s.duration.value == 0 {
                return fail(
                    &at("duration.value"),
                    "a duration must be at least 1".into(),
                );
            }
            for (j, v) in s.variants.iter().enumerate() {
                if v.duration.value == 0 {
                    return fail(
                        &at(&format!("variants[{j}].duration.value")),
                        "a duration must be at least 1".into(),
                    );
                }
            }
            for (f, v) in [
                ("action_kk", &s.action_kk),
                ("action_en", &s.action_en),
                ("output_en", &s.output_en),
            ] {
                if v.trim().is_empty() {
                    return fail(&at(f), "must not be empty".into());
                }
            }
            for issued in &s.issues {
                if !result_codes.contains(issued.as_str()) {
                    return fail(
                        &at("issues"),
                        format!("{issued:?} is not one of results[].code"),
                    );
                }
            }
        }
        self.validate_kinds()?;
        self.validate_attributes()?;
        if let Some(t) = &self.legal_term {
            if t.value == 0 {
                return fail("legal_term.value", "a duration must be at least 1".into());
            }
        }
        for (i, w) in self.acceptance_windows.iter().enumerate() {
            parse_md(&w.from).map_err(|r| (format!("acceptance_windows[{i}].from"), r))?;
            parse_md(&w.until).map_err(|r| (format!("acceptance_windows[{i}].until"), r))?;
        }
        let uses =
            |c: Channel| self.apply_channels.contains(&c) || self.result_channels.contains(&c);
        match (&self.corporation, uses(Channel::StateCorporation)) {
            (None, true) => {
                return fail(
                    "corporation",
                    "the State Corporation is a channel, so its legs (intake, transfer_to_provider, result_back, issue, storage, return_to_provider, redelivery) are required".into(),
                )
            }
            (Some(_), false) => {
                return fail("corporation", "legs given but the State Corporation is not a channel".into())
            }
            (Some(c), true) => {
                for (f, leg) in [
                    ("intake", &c.intake),
                    ("transfer_to_provider", &c.transfer_to_provider),
                    ("result_back", &c.result_back),
                    ("issue", &c.issue),
                    ("return_to_provider", &c.return_to_provider),
                    ("redelivery", &c.redelivery),
                ] {
                    if leg.value == Some(0) {
                        return fail(&format!("corporation.{f}.value"), "a duration must be at least 1".into());
                    }
                    if leg.value.is_some() != leg.unit.is_some() {
                        return fail(&format!("corporation.{f}"), "value and unit come together".into());
                    }
                    if self.format >= 2 && leg.stated != leg.duration().is_some() {
                        return fail(
                            &format!("corporation.{f}"),
                            if leg.stated {
                                "a stated leg needs the duration the act states (value and unit)".into()
                            } else {
                                "a leg whose duration the act does not state carries none: it adds no time to the case".into()
                            },
                        );
                    }
                }
                if c.storage_months == 0 {
                    return fail("corporation.storage_months", "must be at least 1".into());
                }
            }
            (None, false) => {}
        }
        match (&self.portal, uses(Channel::Portal)) {
            (None, true) => {
                return fail(
                    "portal",
                    "the portal is a channel, so portal processing is required".into(),
                )
            }
            (Some(_), false) => {
                return fail("portal", "given but the portal is not a channel".into())
            }
            (Some(p), true) => {
                if p.request_processing.is_some_and(|d| d.value == 0) {
                    return fail(
                        "portal.request_processing.value",
                        "a duration must be at least 1".into(),
                    );
                }
            }
            (None, false) => {}
        }
        for (i, r) in self.refusals.iter().enumerate() {
            for c in &r.channels {
                if !self.apply_channels.contains(c) {
                    return fail(
                        &format!("refusals[{i}].channels"),
                        format!("{c:?} is not an apply channel"),
                    );
                }
            }
        }
        if !(1..=CURRENT_FORMAT).contains(&self.format) {
            return fail(
                "format",
                format!(
                    "{} is not a known format (1 to {CURRENT_FORMAT})",
                    self.format
                ),
            );
        }
        if self.format >= 2 {
            self.validate_refusal_rules()?;
        }
        Ok(())
    }

    /// Format 2: every refusal says who gives it, on which grounds and where the act says so,
    /// and no two rules answer the same question.
    fn validate_refusal_rules(&self) -> Result<(), (String, String)> {
        let fail = |i: usize, f: &str, r: String| Err((format!("refusals[{i}].{f}"), r));
        for (i, r) in self.refusals.iter().enumerate() {
            let Some(by) = r.by else {
                return fail(
                    i,
                    "by",
                    "say who refuses: STATE_CORPORATION or PROVIDER".into(),
                );
            };
            if r.paragraph.as_deref().is_none_or(|p| p.trim().is_empty()) {
                return fail(i, "paragraph", "cite the paragraph of the act".into());
            }
            if r.grounds.is_empty() || r.channels.is_empty() {
                return fail(
                    i,
                    "grounds",
                    "name at least one ground and one channel".into(),
                );
            }
            let allowed: &[RefusalGround] = match r.kind {
                RefusalCode::IntakeRefusal => &[
                    RefusalGround::IncompletePackage,
                    RefusalGround::ExpiredDocuments,
                ],
                RefusalCode::ReasonedRefusal => &[RefusalGround::StandardGrounds],
            };
            if let Some(g) = r.grounds.iter().find(|g| !allowed.contains(g)) {
                return fail(
                    i,
                    "grounds",
                    format!("{g:?} is not a ground of a {:?}", r.kind),
                );
            }
            if r.kind == RefusalCode::ReasonedRefusal && by != RefusedBy::Provider {
                return fail(i, "by", "a reasoned refusal is the provider's".into());
            }
            if by == RefusedBy::StateCorporation
                && r.channels.iter().any(|c| *c != Channel::StateCorporation)
            {
                return fail(
                    i,
                    "channels",
                    "the State Corporation refuses only cases on its own channel".into(),
                );
            }
            if r.all_grounds && r.grounds.len() < 2 {
                return fail(i, "all_grounds", "needs two grounds or more".into());
            }
            for (j, other) in self.refusals.iter().enumerate().take(i) {
                if other.kind == r.kind
                    && other.by == r.by
                    && other.channels.iter().any(|c| r.channels.contains(c))
                {
                    return fail(i, "channels", format!("overlaps refusals[{j}]"));
                }
            }
        }
        Ok(())
    }

    /// Whether refusals are rules the engine enforces (format 2), not only a catalogue.
    pub fn refusals_are_rules(&self) -> bool {
        self.format >= 2
    }

    /// The refusal rule of `kind` for a case on `channel` refused by `by`, if the act provides
    /// one.
    pub fn refusal(
        &self,
        kind: RefusalCode,
        channel: Channel,
        by: RefusedBy,
    ) -> Option<&RefusalKind> {
        self.refusals.iter().find(|r| r.applies(kind, channel, by))
    }

    fn validate_attributes(&self) -> Result<(), (String, String)> {
        for (i, a) in self.attributes.iter().enumerate() {
            if a.values.is_empty() || !a.values.contains(&a.default) {
                return Err((
                    format!("attributes[{i}].default"),
                    format!("{:?} is not one of the values {:?}", a.default, a.values),
                ));
            }
        }
        for (i, s) in self.steps.iter().enumerate() {
            for (j, v) in s.variants.iter().enumerate() {
                let declared = self.attribute(&v.attribute);
                if !declared.is_some_and(|d| d.values.contains(&v.equals)) {
                    return Err((
                        format!("steps[{i}].variants[{j}]"),
                        format!(
                            "{} = {:?} is not a declared attribute value ([[attributes]])",
                            v.attribute, v.equals
                        ),
                    ));
                }
            }
        }
        if let Some(c) = &self.corporation {
            if let Some(order) = c.result_back.within_step {
                if !self
                    .steps
                    .iter()
                    .any(|s| s.order == order && s.kind == StepKind::Issue)
                {
                    return Err((
                        "corporation.result_back.within_step".into(),
                        format!("step {order} is not this regulation's ISSUE step"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The declared attribute of this name.
    pub fn attribute(&self, name: &str) -> Option<&AttributeDomain> {
        self.attributes.iter().find(|a| a.name == name)
    }

    fn validate_kinds(&self) -> Result<(), (String, String)> {
        for (i, s) in self.steps.iter().enumerate() {
            if !s.kind.allowed_mailboxes().contains(&s.mailbox) {
                return Err((
                    format!("steps[{i}].kind"),
                    format!(
                        "a {:?} step cannot sit in the {:?} mailbox",
                        s.kind, s.mailbox
                    ),
                ));
            }
        }
        // Kinds must come in the life-cycle order (each at most once), with exactly one intake.
        let mut last: Option<StepKind> = None;
        for (i, s) in self.steps.iter().enumerate() {
            if last.is_some_and(|l| l >= s.kind) {
                return Err((
                    format!("steps[{i}].kind"),
                    format!("{:?} is out of order or repeated", s.kind),
                ));
            }
            last = Some(s.kind);
        }
        let has = |k: StepKind| self.steps.iter().any(|s| s.kind == k);
        if !has(StepKind::Intake) {
            return Err(("steps".into(), "exactly one INTAKE step is required".into()));
        }
        for (needs, what) in [
            (StepKind::Prepare, StepKind::Resolution),
            (StepKind::Sign, StepKind::Prepare),
            (StepKind::Issue, StepKind::Sign),
        ] {
            if has(needs) != has(what) {
                return Err((
                    "steps".into(),
                    format!("{needs:?} and {what:?} steps come together"),
                ));
            }
        }
        let corp_steps = has(StepKind::CorporationIntake)
            || has(StepKind::CorporationTransfer)
            || has(StepKind::CorporationIssue);
        if corp_steps && !self.apply_channels.contains(&Channel::StateCorporation) {
            return Err((
                "steps".into(),
                "State Corporation steps without the State Corporation channel".into(),
            ));
        }
        Ok(())
    }

    /// The step of a kind, if the regulation has one.
    pub fn step(&self, kind: StepKind) -> Option<&Step> {
        self.steps.iter().find(|s| s.kind == kind)
    }

    /// Whether applications through `channel` are accepted.
    pub fn accepts(&self, channel: Channel) -> bool {
        self.apply_channels.contains(&channel)
    }

    /// Whether an application for `applies_to` (or any, when `None`) may be registered on
    /// `date`: true when no window governs it, or one that does is open.
    pub fn window_open(&self, date: NaiveDate, applies_to: Option<&str>) -> bool {
        let governing: Vec<_> = self
            .acceptance_windows
            .iter()
            .filter(|w| applies_to.is_none_or(|a| a == w.applies_to))
            .collect();
        governing.is_empty() || governing.iter().any(|w| w.contains(date))
    }

    /// The last day a legal result date may fall on for an application registered on `date`
    /// for `applies_to` (any, when `None`): the end of the earliest open window that is the
    /// term of the service; none when no such window governs it.
    pub fn term_of_service_ends(
        &self,
        date: NaiveDate,
        applies_to: Option<&str>,
    ) -> Option<NaiveDate> {
        self.acceptance_windows
            .iter()
            .filter(|w| w.term_of_service && applies_to.is_none_or(|a| a == w.applies_to))
            .filter(|w| w.contains(date))
            .filter_map(|w| w.last_day(date))
            .min()
    }

    /// The sum of the step durations by unit, for comparison with the legal term.
    pub fn step_totals(&self) -> Vec<(DurationUnit, u32)> {
        let mut totals: Vec<(DurationUnit, u32)> = Vec::new();
        for s in &self.steps {
            match totals.iter_mut().find(|(u, _)| *u == s.duration.unit) {
                Some((_, n)) => *n += s.duration.value,
                None => totals.push((s.duration.unit, s.duration.value)),
            }
        }
        totals
    }
}

/// The regulations shipped with qyzmet: (file name, contents). A new region's regulation does
/// not need a release: `qyzmet regulations import FILE` adds it to a running system.
pub const BUNDLED_REGULATIONS: [(&str, &str); 13] = [
    bundled!("mangystau-school-admission"),
    bundled!("mangystau-externat-permission"),
    bundled!("mangystau-secondary-education-duplicates"),
    bundled!("west-kazakhstan-externat-permission"),
    bundled!("west-kazakhstan-secondary-education-duplicates"),
    bundled!("east-kazakhstan-guardianship-orphans"),
    bundled!("east-kazakhstan-rural-school-transport"),
    bundled!("east-kazakhstan-camp-vouchers"),
    bundled!("east-kazakhstan-foster-family-placement"),
    bundled!("west-kazakhstan-college-document-acceptance"),
    bundled!("west-kazakhstan-college-dormitory"),
    bundled!("west-kazakhstan-vocational-education-duplicates"),
    bundled!("atyrau-teacher-attestation-intake"),
];

/// Checks a set of regulations together: codes must be unique.
pub fn check_unique(regulations: &[(String, Regulation)]) -> Result<(), RegulationError> {
    let mut seen: std::collections::BTreeMap<&str, &str> = Default::default();
    for (file, r) in regulations {
        if let Some(first) = seen.insert(r.code.as_str(), file.as_str()) {
            return Err(RegulationError {
                file: file.clone(),
                field: "code".into(),
                reason: format!("{:?} is also the code of {first}", r.code),
            });
        }
    }
    Ok(())
}
