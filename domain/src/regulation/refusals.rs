//! The refusals a regulation file declares: of which kind, on which channels, by whom, on which
//! grounds (the rule itself is `crate::refusal`).

use serde::{Deserialize, Serialize};

use super::Channel;

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
