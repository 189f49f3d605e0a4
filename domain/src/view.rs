//! What each audience may see of a case. Staff see what their work needs; an applicant sees
//! where the case stands (as a public label), the receipt, the legal result date, the result
//! once issued and a reasoned refusal once signed — and nothing internal: no drafts, notes,
//! return comments, staff usernames, step outcomes or event hashes.

use crate::case::{CaseStatus, Stage};
use crate::documents::{Refusal, ServiceResult};
use crate::identity::Role;

/// Who looks at a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// The applicant who owns it.
    Applicant,
    /// Staff in scope (provider, State Corporation, analysts, admins).
    Staff,
}

impl Audience {
    /// The audience of a role.
    pub fn of(role: Role) -> Audience {
        if role == Role::Applicant {
            Audience::Applicant
        } else {
            Audience::Staff
        }
    }

    /// Whether internal material is shown: the assignee, step actors, outcomes and comments,
    /// the executor's draft, the event chain with its hashes, staff usernames on documents.
    pub fn sees_internal(self) -> bool {
        self == Audience::Staff
    }
}

/// Where a case stands, as the applicant is told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PublicProgress {
    /// Submitted on the portal, waiting for the provider to register it.
    AwaitingRegistration,
    /// Registered and being considered.
    UnderConsideration,
    /// The result is ready for collection at the State Corporation.
    ReadyForCollection,
    /// The result was issued.
    Issued,
    /// A reasoned refusal was issued.
    Refused,
    /// Refused at intake: documents missing or expired.
    RefusedAtIntake,
    /// Not collected in time: kept by the provider; ask the State Corporation for it.
    StoredAtProvider,
    /// Requested back from the provider's storage; on its way to the counter.
    ReturningToCounter,
}

impl PublicProgress {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            PublicProgress::AwaitingRegistration => "AWAITING_REGISTRATION",
            PublicProgress::UnderConsideration => "UNDER_CONSIDERATION",
            PublicProgress::ReadyForCollection => "READY_FOR_COLLECTION",
            PublicProgress::Issued => "ISSUED",
            PublicProgress::Refused => "REFUSED",
            PublicProgress::RefusedAtIntake => "REFUSED_AT_INTAKE",
            PublicProgress::StoredAtProvider => "STORED_AT_PROVIDER",
            PublicProgress::ReturningToCounter => "RETURNING_TO_COUNTER",
        }
    }
}

/// The public label of a case's status and stage.
pub fn public_progress(status: CaseStatus, _stage: Stage) -> PublicProgress {
    match status {
        CaseStatus::Submitted => PublicProgress::AwaitingRegistration,
        CaseStatus::InProgress => PublicProgress::UnderConsideration,
        CaseStatus::ResultReady => PublicProgress::ReadyForCollection,
        CaseStatus::Completed => PublicProgress::Issued,
        CaseStatus::Refused => PublicProgress::Refused,
        CaseStatus::RefusedAtIntake => PublicProgress::RefusedAtIntake,
        CaseStatus::ReturnedUnclaimed => PublicProgress::StoredAtProvider,
        CaseStatus::Redelivery => PublicProgress::ReturningToCounter,
    }
}

/// A refusal as the audience sees it: an applicant sees a refusal receipt, and a reasoned
/// refusal only once the head has signed it.
pub fn refusal(audience: Audience, r: &Refusal) -> Option<Refusal> {
    match (audience, r) {
        (Audience::Staff, _) => Some(r.clone()),
        (Audience::Applicant, Refusal::IntakeRefusal(_)) => Some(r.clone()),
        (Audience::Applicant, Refusal::ReasonedRefusal(x)) => x
            .signature
            .as_ref()
            .map(|_| Refusal::ReasonedRefusal(x.clone())),
    }
}

/// The result as the audience sees it: an applicant sees it once it was issued to them.
pub fn result(audience: Audience, r: &ServiceResult) -> Option<ServiceResult> {
    match audience {
        Audience::Staff => Some(r.clone()),
        Audience::Applicant => r.issued_at.map(|_| r.clone()),
    }
}

/// Whether staff usernames on documents are shown to the audience (applicants see the
/// organisation that acted, not the employee's login).
pub fn shows_staff_names(audience: Audience) -> bool {
    audience.sees_internal()
}

/// The kinds of legal document a case issues, as the public verification names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DocumentKind {
    /// The receipt (қолхат) given at acceptance.
    Receipt,
    /// The refusal receipt at intake (documents missing or expired).
    RefusalReceipt,
    /// The reasoned refusal (дәлелді жауап), once signed.
    ReasonedRefusal,
    /// The result of the service, once issued.
    ServiceResult,
}

impl DocumentKind {
    /// Every kind.
    pub const ALL: [DocumentKind; 4] = [
        DocumentKind::Receipt,
        DocumentKind::RefusalReceipt,
        DocumentKind::ReasonedRefusal,
        DocumentKind::ServiceResult,
    ];

    /// The kind named in a download path (`receipt`, `refusal-receipt`, `reasoned-refusal`,
    /// `result`).
    pub fn slug(self) -> &'static str {
        match self {
            DocumentKind::Receipt => "receipt",
            DocumentKind::RefusalReceipt => "refusal-receipt",
            DocumentKind::ReasonedRefusal => "reasoned-refusal",
            DocumentKind::ServiceResult => "result",
        }
    }

    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::Receipt => "RECEIPT",
            DocumentKind::RefusalReceipt => "REFUSAL_RECEIPT",
            DocumentKind::ReasonedRefusal => "REASONED_REFUSAL",
            DocumentKind::ServiceResult => "SERVICE_RESULT",
        }
    }
}

/// A legal document as anyone holding its number may check it: its kind, when it was issued and
/// the SHA-256 of its content — nothing about the applicant or the staff.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicDocument {
    /// The kind.
    pub kind: DocumentKind,
    /// When it was issued (accepted, signed, or handed over).
    pub issued_at: chrono::DateTime<chrono::Utc>,
    /// The SHA-256 of its content ([`document_hash`]).
    pub sha256: String,
}

/// What `GET /verify/{number}` answers for an existing case: where it stands (the applicant's
/// public label) and the documents the applicant has been given, each with its hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verification {
    /// The registration number.
    pub number: String,
    /// Where the case stands.
    pub progress: PublicProgress,
    /// The documents issued, in the order of the case's life.
    pub documents: Vec<PublicDocument>,
}

/// The SHA-256 (hex) of a document's content, its JSON as stored: the same value whoever
/// computes it, so a printed copy can be checked against the record.
pub fn document_hash<T: serde::Serialize>(doc: &T) -> String {
    use sha2::{Digest, Sha256};
    let text = serde_json::to_string(doc).unwrap_or_default();
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What the public verification reads of a case: its number, where it stands and its legal
/// documents.
#[derive(Clone, Copy, Debug)]
pub struct Documents<'a> {
    /// The registration number.
    pub number: &'a str,
    /// The status.
    pub status: CaseStatus,
    /// The stage.
    pub stage: Stage,
    /// The receipt, once issued.
    pub receipt: Option<&'a crate::documents::Receipt>,
    /// A refusal receipt or a reasoned refusal (a draft until signed).
    pub refusal: Option<&'a Refusal>,
    /// The result, once signed.
    pub result: Option<&'a crate::documents::ServiceResult>,
}

/// The public verification of a case: only documents the applicant may see (a reasoned refusal
/// once signed, the result once issued), and no personal data.
pub fn verification(c: Documents<'_>) -> Verification {
    let mut documents = Vec::new();
    if let Some(r) = c.receipt {
        documents.push(PublicDocument {
            kind: DocumentKind::Receipt,
            issued_at: r.accepted_at,
            sha256: document_hash(r),
        });
    }
    match c.refusal.and_then(|r| refusal(Audience::Applicant, r)) {
        Some(Refusal::IntakeRefusal(x)) => documents.push(PublicDocument {
            kind: DocumentKind::RefusalReceipt,
            issued_at: x.issued_at,
            sha256: document_hash(&x),
        }),
        Some(Refusal::ReasonedRefusal(x)) => {
            if let Some(s) = &x.signature {
                documents.push(PublicDocument {
                    kind: DocumentKind::ReasonedRefusal,
                    issued_at: s.signed_at,
                    sha256: document_hash(&x),
                });
            }
        }
        None => {}
    }
    if let Some(r) = c.result.and_then(|r| result(Audience::Applicant, r)) {
        if let Some(at) = r.issued_at {
            documents.push(PublicDocument {
                kind: DocumentKind::ServiceResult,
                issued_at: at,
                sha256: document_hash(&r),
            });
        }
    }
    Verification {
        number: c.number.to_owned(),
        progress: public_progress(c.status, c.stage),
        documents,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::documents::{ReasonedRefusal, Signature};
    use chrono::DateTime;

    fn at() -> chrono::DateTime<chrono::Utc> {
        DateTime::from_timestamp(1_750_000_000, 0).expect("valid")
    }

    #[test]
    fn given_a_draft_refusal_when_the_applicant_looks_then_it_is_not_there_until_signed() {
        let draft = Refusal::ReasonedRefusal(ReasonedRefusal {
            grounds: "not eligible".into(),
            prepared_by: "executor".into(),
            prepared_at: Some(at()),
            signature: None,
        });
        assert_eq!(refusal(Audience::Applicant, &draft), None);
        assert_eq!(refusal(Audience::Staff, &draft), Some(draft.clone()));
        let signed = match draft {
            Refusal::ReasonedRefusal(r) => Refusal::ReasonedRefusal(ReasonedRefusal {
                signature: Some(Signature {
                    signed_by: "head".into(),
                    signed_at: at(),
                }),
                ..r
            }),
            other => other,
        };
        assert_eq!(refusal(Audience::Applicant, &signed), Some(signed.clone()));
    }

    #[test]
    fn given_a_signed_result_not_yet_issued_when_the_applicant_looks_then_it_is_not_there() {
        let mut r = ServiceResult {
            documents: vec!["order".into()],
            signature: Some(Signature {
                signed_by: "head".into(),
                signed_at: at(),
            }),
            issued_at: None,
            issued_by: None,
        };
        assert_eq!(result(Audience::Applicant, &r), None);
        assert!(result(Audience::Staff, &r).is_some());
        r.issued_at = Some(at());
        assert!(result(Audience::Applicant, &r).is_some());
    }

    #[test]
    fn a_documents_hash_follows_its_content() {
        let a = Signature {
            signed_by: "head".into(),
            signed_at: at(),
        };
        let b = Signature {
            signed_by: "other".into(),
            ..a.clone()
        };
        assert_eq!(document_hash(&a), document_hash(&a.clone()));
        assert_ne!(document_hash(&a), document_hash(&b));
        assert_eq!(document_hash(&a).len(), 64);
    }

    #[test]
    fn every_status_has_a_public_label() {
        assert_eq!(
            public_progress(CaseStatus::ResultReady, Stage::CorporationIssue),
            PublicProgress::ReadyForCollection
        );
        assert_eq!(
            public_progress(CaseStatus::Submitted, Stage::Intake).as_str(),
            "AWAITING_REGISTRATION"
        );
        assert!(!Audience::of(Role::Applicant).sees_internal());
        assert!(Audience::of(Role::Head).sees_internal());
    }
}
