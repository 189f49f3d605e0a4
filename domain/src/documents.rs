//! The legal documents a case produces, as the acts name them. Each is issued once and never
//! rewritten: a later step adds its own record (the provider's registration of a State
//! Corporation case is a [`Registration`], not a new receipt).
//!
//! Times are UTC instants; a client shows them in the provider's zone. Stored as JSON in the
//! case row; the field names are those the earlier untyped documents used, so documents stored
//! before they were typed still read.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::regulation::Channel;

/// Who did something on a document: the organisation and its employee (or the applicant).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Signatory {
    /// The organisation's code; empty for the applicant.
    #[serde(default)]
    pub organisation: String,
    /// The employee's name as recorded (username), or `applicant`.
    pub name: String,
}

/// The receipt (қолхат) given at acceptance: the number, the documents accepted, the legal
/// result date and who accepted them. Issued once; never changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Receipt {
    /// The registration number.
    pub number: String,
    /// The regulation code.
    pub regulation: String,
    /// The pinned regulation version.
    pub regulation_version: i32,
    /// The service's name in Kazakh.
    pub service: String,
    /// Where the application was accepted.
    #[serde(default = "office")]
    pub channel: Channel,
    /// The applicant's full name.
    pub applicant: String,
    /// The applicant's IIN.
    pub iin: String,
    /// The documents accepted.
    #[serde(default)]
    pub documents: Vec<String>,
    /// The legal result date.
    pub legal_result_date: Option<DateTime<Utc>>,
    /// When they were accepted.
    pub accepted_at: DateTime<Utc>,
    /// The organisation (code) whose employee accepted them.
    #[serde(default)]
    pub accepted_organisation: String,
    /// The employee who accepted them.
    pub accepted_by: String,
}

fn office() -> Channel {
    Channel::ProviderOffice
}

/// The provider's registration of an application that reached it from the portal or the State
/// Corporation: a record of its own, next to (never instead of) the receipt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Registration {
    /// When the provider registered it.
    pub registered_at: DateTime<Utc>,
    /// The provider's organisation code.
    pub organisation: String,
    /// The clerk who registered it.
    pub registered_by: String,
}

/// The refusal receipt at intake: the documents missing and expired, named.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefusalReceipt {
    /// Documents required and not handed in.
    #[serde(default)]
    pub missing: Vec<String>,
    /// Documents handed in but expired.
    #[serde(default)]
    pub expired: Vec<String>,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
    /// The organisation (code) that issued it.
    #[serde(default)]
    pub issued_organisation: String,
    /// The employee who issued it.
    pub issued_by: String,
}

/// A signature on a result or a reasoned refusal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Signature {
    /// Who signed (the head).
    pub signed_by: String,
    /// When.
    pub signed_at: DateTime<Utc>,
}

/// The reasoned refusal (дәлелді жауап): grounds prepared by the executor, signed by the head.
/// Until it is signed it is a draft that only staff see.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReasonedRefusal {
    /// The grounds.
    pub grounds: String,
    /// The executor who prepared it.
    pub prepared_by: String,
    /// When it was prepared (absent on refusals stored before this was recorded).
    #[serde(default)]
    pub prepared_at: Option<DateTime<Utc>>,
    /// The head's signature, once signed.
    #[serde(flatten, default)]
    pub signature: Option<Signature>,
}

/// A refusal on a case: at intake, or reasoned after examination.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Refusal {
    /// The refusal receipt at intake.
    IntakeRefusal(RefusalReceipt),
    /// The reasoned refusal.
    ReasonedRefusal(ReasonedRefusal),
}

/// The result of the service: which of the regulation's result documents, signed by whom and
/// when, issued by whom and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceResult {
    /// Codes of the regulation's result documents (`[[results]]` of the regulation file).
    #[serde(default)]
    pub documents: Vec<String>,
    /// The head's signature; none for a one-step service, whose receipt is the result.
    #[serde(flatten, default)]
    pub signature: Option<Signature>,
    /// When it reached the applicant's channel (office, portal or the State Corporation counter).
    #[serde(default)]
    pub issued_at: Option<DateTime<Utc>>,
    /// Who issued it.
    #[serde(default)]
    pub issued_by: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_a_receipt_stored_before_typing_when_read_then_its_fields_survive() {
        let old = r#"{"number":"KZ47-20250602-0000042","regulation":"r","regulationVersion":1,
            "service":"s","applicant":"A","iin":"850305400120","documents":["x"],
            "legalResultDate":"2025-06-10T18:30:00+05:00","acceptedAt":"2025-06-02T10:00:00+05:00",
            "acceptedBy":"clerk"}"#;
        let r: Receipt = serde_json::from_str(old).expect("reads");
        assert_eq!(r.channel, Channel::ProviderOffice);
        assert_eq!(r.accepted_at.to_rfc3339(), "2025-06-02T05:00:00+00:00");
        assert_eq!(r.documents, ["x"]);
    }

    #[test]
    fn given_a_signed_reasoned_refusal_when_stored_then_it_reads_back_the_same() {
        let r = Refusal::ReasonedRefusal(ReasonedRefusal {
            grounds: "g".into(),
            prepared_by: "e".into(),
            prepared_at: None,
            signature: Some(Signature {
                signed_by: "h".into(),
                signed_at: DateTime::from_timestamp(1_700_000_000, 0).expect("valid"),
            }),
        });
        let text = serde_json::to_string(&r).expect("writes");
        assert!(text.contains(r#""kind":"REASONED_REFUSAL""#), "{text}");
        assert_eq!(serde_json::from_str::<Refusal>(&text).expect("reads"), r);
        let draft = r#"{"kind":"REASONED_REFUSAL","grounds":"g","preparedBy":"e"}"#;
        match serde_json::from_str::<Refusal>(draft).expect("reads") {
            Refusal::ReasonedRefusal(d) => assert_eq!(d.signature, None),
            other => panic!("{other:?}"),
        }
    }
}
