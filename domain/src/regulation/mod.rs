//! Regulations (регламенттер) as data: one TOML file per regulation, checked whole before it is
//! used. A file that fails any check is refused entirely, with an error naming the file and the
//! field; nothing of it is loaded.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::deadline::{DurationUnit, LegalDuration};

mod refusals;
mod validate;
mod windows;

pub use refusals::{RefusalCode, RefusalGround, RefusalKind, RefusedBy};
use windows::parse_md;
pub use windows::AcceptanceWindow;

macro_rules! bundled {
    ($name:literal) => {
        (
            concat!("data/regulations/", $name, ".toml"),
            include_str!(concat!("../../../data/regulations/", $name, ".toml")),
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

    /// The declared attribute of this name.
    pub fn attribute(&self, name: &str) -> Option<&AttributeDomain> {
        self.attributes.iter().find(|a| a.name == name)
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
