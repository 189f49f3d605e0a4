//! The legal documents of a case as the API gives them — the receipt, the provider's
//! registration, the refusal receipt, the reasoned refusal, the service result — with the
//! applicant's public progress label and the actions open to the caller. Typed, never `JSON`;
//! every time in UTC.

use async_graphql::{Context, Enum, Object, SimpleObject};
use chrono::Utc;
use entity::case_file;

use crate::error::ApiError;

use crate::graphql::catalog::Channel;
use crate::graphql::scalars::Instant;

/// Where a case stands, as the applicant is told.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "domain::view::PublicProgress")]
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

/// The receipt (қолхат) given at acceptance. Issued once; it never changes. Times are UTC.
#[derive(SimpleObject)]
pub struct Receipt {
    /// The registration number.
    number: String,
    /// The regulation code.
    regulation: String,
    /// The pinned regulation version.
    regulation_version: i32,
    /// The service's name in Kazakh.
    service: String,
    /// Where the application was accepted.
    channel: Channel,
    /// The applicant's full name.
    applicant: String,
    /// The applicant's IIN.
    iin: String,
    /// The documents accepted.
    documents: Vec<String>,
    /// The legal result date.
    legal_result_date: Option<Instant>,
    /// When the documents were accepted.
    accepted_at: Instant,
    /// The organisation (code) whose employee accepted them.
    accepted_organisation: String,
    /// The employee who accepted them (username); staff only, null for applicants.
    accepted_by: Option<String>,
}

impl Receipt {
    /// The receipt as `names` allows (staff usernames only for staff).
    pub(crate) fn from_domain(r: domain::documents::Receipt, names: bool) -> Receipt {
        Receipt {
            number: r.number,
            regulation: r.regulation,
            regulation_version: r.regulation_version,
            service: r.service,
            channel: r.channel.into(),
            applicant: r.applicant,
            iin: r.iin,
            documents: r.documents,
            legal_result_date: r.legal_result_date.map(Into::into),
            accepted_at: r.accepted_at.into(),
            accepted_organisation: r.accepted_organisation,
            accepted_by: names.then_some(r.accepted_by),
        }
    }
}

/// The provider's registration of a portal or State Corporation application.
#[derive(SimpleObject)]
pub struct Registration {
    /// When the provider registered it.
    registered_at: Instant,
    /// The provider (code).
    organisation: String,
    /// The clerk who registered it (username); staff only, null for applicants.
    registered_by: Option<String>,
}

/// The refusal receipt at intake.
#[derive(SimpleObject)]
pub struct RefusalReceipt {
    /// Documents required and not handed in.
    missing: Vec<String>,
    /// Documents handed in but expired.
    expired: Vec<String>,
    /// When it was issued.
    issued_at: Instant,
    /// The organisation (code) that issued it.
    issued_organisation: String,
    /// The employee who issued it (username); staff only, null for applicants.
    issued_by: Option<String>,
}

/// The reasoned refusal (дәлелді жауап).
#[derive(SimpleObject)]
pub struct ReasonedRefusal {
    /// The grounds.
    grounds: String,
    /// Whether the head has signed it (until then it is a draft only staff see).
    signed: bool,
    /// The executor who prepared it (username); staff only.
    prepared_by: Option<String>,
    /// When it was prepared.
    prepared_at: Option<Instant>,
    /// The head who signed it (username); staff only.
    signed_by: Option<String>,
    /// When it was signed.
    signed_at: Option<Instant>,
}

/// One of the regulation's result documents.
#[derive(SimpleObject)]
pub struct ResultDocument {
    /// Code, as in the regulation's results.
    code: String,
    /// Name in Kazakh.
    name_kk: String,
    /// Name in English.
    name_en: String,
}

/// The result of the service.
#[derive(SimpleObject)]
pub struct ServiceResult {
    /// Which of the regulation's result documents.
    documents: Vec<ResultDocument>,
    /// The head who signed it (username); staff only; none for a one-step service, whose
    /// receipt is the result.
    signed_by: Option<String>,
    /// When it was signed.
    signed_at: Option<Instant>,
    /// When it was issued to the applicant (office, portal, State Corporation counter).
    issued_at: Option<Instant>,
    /// Who issued it (username); staff only.
    issued_by: Option<String>,
}

/// An action on a case.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "domain::case::Action")]
pub enum CaseAction {
    /// `completeIntake`: register (or refuse) a submitted or delivered application.
    CompleteIntake,
    /// `assignExecutor`: the head assigns an executor.
    AssignExecutor,
    /// `prepareResult`: the assigned executor prepares the result or a reasoned refusal.
    PrepareResult,
    /// `signResult`: the head signs.
    SignResult,
    /// `returnToExecutor`: the head returns the draft.
    ReturnToExecutor,
    /// `issueResult`: the office issues the result (or hands it to the courier).
    IssueResult,
    /// `deliverToProvider`: the courier delivered the documents to the provider.
    DeliverToProvider,
    /// `receiveResult`: the State Corporation received the result.
    ReceiveResult,
    /// `issueAtCorporation`: the operator issues the result at the counter.
    IssueAtCorporation,
    /// `returnUncollected`: an uncollected result goes back to the provider.
    ReturnUncollected,
    /// `requestRedelivery`: the State Corporation asks for a stored result back.
    RequestRedelivery,
    /// `redeliver`: the provider sends the stored result back.
    Redeliver,
}

/// An action the caller may take on a case now.
#[derive(SimpleObject)]
pub struct AvailableAction {
    /// The action.
    action: CaseAction,
    /// The mutation that performs it.
    mutation: String,
    /// The arguments it needs besides `caseId` and `version`.
    needs: Vec<String>,
    /// When the stop it completes is due; null where no staff deadline runs.
    due_at: Option<Instant>,
    /// Not before this instant (an uncollected result goes back only after storage).
    not_before: Option<Instant>,
    /// The refusal this action may give, as the act provides it (an intake refusal when
    /// registering, a reasoned refusal when preparing the result); null: it cannot refuse
    /// here — name no missing or expired documents and no grounds, or the answer is
    /// `REFUSAL_NOT_PROVIDED`.
    refusal: Option<crate::graphql::refusals::Refusal>,
}

impl From<domain::engine::AvailableAction> for AvailableAction {
    fn from(a: domain::engine::AvailableAction) -> AvailableAction {
        use domain::case::Action as A;
        let (mutation, needs): (&str, &[&str]) = match a.action {
            A::CompleteIntake => ("completeIntake", &["missing", "expired"]),
            A::AssignExecutor => ("assignExecutor", &["executor"]),
            A::PrepareResult => ("prepareResult", &["refusalGrounds", "note"]),
            A::SignResult => ("signResult", &[]),
            A::ReturnToExecutor => ("returnToExecutor", &["comment"]),
            A::IssueResult => ("issueResult", &[]),
            A::DeliverToProvider => ("deliverToProvider", &[]),
            A::ReceiveResult => ("receiveResult", &[]),
            A::IssueAtCorporation => ("issueAtCorporation", &[]),
            A::ReturnUncollected => ("returnUncollected", &[]),
            A::RequestRedelivery => ("requestRedelivery", &[]),
            A::Redeliver => ("redeliver", &[]),
        };
        AvailableAction {
            action: a.action.into(),
            mutation: mutation.to_owned(),
            needs: needs.iter().map(|s| (*s).to_owned()).collect(),
            due_at: a.due.map(Into::into),
            not_before: a.not_before.map(Into::into),
            refusal: a.refusal.as_ref().map(Into::into),
        }
    }
}

impl Registration {
    /// The registration as `names` allows.
    pub(crate) fn from_domain(r: domain::documents::Registration, names: bool) -> Registration {
        Registration {
            registered_at: r.registered_at.into(),
            organisation: r.organisation,
            registered_by: names.then_some(r.registered_by),
        }
    }
}

impl RefusalReceipt {
    /// The refusal receipt as `names` allows.
    pub(crate) fn from_domain(x: domain::documents::RefusalReceipt, names: bool) -> RefusalReceipt {
        RefusalReceipt {
            missing: x.missing,
            expired: x.expired,
            issued_at: x.issued_at.into(),
            issued_organisation: x.issued_organisation,
            issued_by: names.then_some(x.issued_by),
        }
    }
}

impl ReasonedRefusal {
    /// The reasoned refusal as `names` allows.
    pub(crate) fn from_domain(
        x: domain::documents::ReasonedRefusal,
        names: bool,
    ) -> ReasonedRefusal {
        ReasonedRefusal {
            grounds: x.grounds,
            prepared_by: names.then_some(x.prepared_by),
            prepared_at: x.prepared_at.map(Into::into),
            signed: x.signature.is_some(),
            signed_by: x
                .signature
                .as_ref()
                .and_then(|s| names.then(|| s.signed_by.clone())),
            signed_at: x.signature.map(|s| s.signed_at).map(Into::into),
        }
    }
}

impl ServiceResult {
    /// The result as `names` allows, its documents named from the pinned regulation.
    pub(crate) fn from_domain(
        r: domain::documents::ServiceResult,
        reg: &domain::regulation::Regulation,
        names: bool,
    ) -> ServiceResult {
        ServiceResult {
            documents: r
                .documents
                .iter()
                .map(|code| {
                    let kind = reg.results.iter().find(|k| &k.code == code);
                    ResultDocument {
                        code: code.clone(),
                        name_kk: kind.map(|k| k.name_kk.clone()).unwrap_or_default(),
                        name_en: kind.map(|k| k.name_en.clone()).unwrap_or_default(),
                    }
                })
                .collect(),
            signed_by: r
                .signature
                .as_ref()
                .and_then(|s| names.then(|| s.signed_by.clone())),
            signed_at: r.signature.as_ref().map(|s| s.signed_at).map(Into::into),
            issued_at: r.issued_at.map(Into::into),
            issued_by: r.issued_by.filter(|_| names),
        }
    }
}

/// A short-lived link that downloads a file without an `Authorization` header.
#[derive(SimpleObject)]
pub struct DownloadLink {
    /// The path and query to open on this server (prefix it with the API's origin).
    pub url: String,
    /// When the link stops working (five minutes after it was made).
    pub expires_at: Instant,
}

impl DownloadLink {
    /// A link to `url` that works until `expires_at`.
    pub fn new(url: String, expires_at: chrono::DateTime<Utc>) -> DownloadLink {
        DownloadLink {
            url,
            expires_at: expires_at.into(),
        }
    }
}

/// What a file's content is (judged by its content, never its name).
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// A PDF document.
    Pdf,
    /// A JPEG image.
    Jpeg,
    /// A PNG image.
    Png,
}

impl From<domain::files::FileKind> for FileKind {
    fn from(k: domain::files::FileKind) -> FileKind {
        match k {
            domain::files::FileKind::Pdf => FileKind::Pdf,
            domain::files::FileKind::Jpeg => FileKind::Jpeg,
            domain::files::FileKind::Png => FileKind::Png,
        }
    }
}

/// A file attached to a case.
pub struct CaseFile {
    row: case_file::Model,
    /// Whether the viewer sees staff names.
    staff_view: bool,
}

impl CaseFile {
    /// A file as `staff_view` (staff, or an applicant) sees it.
    pub fn new(row: case_file::Model, staff_view: bool) -> CaseFile {
        CaseFile { row, staff_view }
    }
}

/// A file attached to a case: its name, kind, size and SHA-256, when and by whom, and a
/// download link.
#[Object]
impl CaseFile {
    /// The attachment's id.
    async fn id(&self) -> async_graphql::ID {
        async_graphql::ID(self.row.id.to_string())
    }

    /// The name it was attached under (the client's file name, without any folder).
    async fn name(&self) -> &str {
        &self.row.name
    }

    /// Its kind.
    async fn kind(&self) -> Result<FileKind, ApiError> {
        domain::files::FileKind::parse(&self.row.media_type)
            .map(Into::into)
            .ok_or_else(|| ApiError::internal(std::io::Error::other("unknown stored media type")))
    }

    /// Its size in bytes.
    async fn size(&self) -> i64 {
        self.row.size
    }

    /// The SHA-256 of its content, hex; the same value is in the case's event chain.
    async fn sha256(&self) -> &str {
        &self.row.sha256
    }

    /// When it was attached.
    async fn uploaded_at(&self) -> Instant {
        self.row.uploaded_at.into()
    }

    /// The IIN of the person whose accepted electronic signature came with the file; null for a
    /// file attached without one.
    async fn signed_by(&self) -> Option<&str> {
        self.row.signer_iin.as_deref()
    }

    /// When it was signed (the signature's own signing time, as accepted).
    async fn signed_at(&self) -> Option<Instant> {
        self.row.signed_at.map(Into::into)
    }

    /// Who attached it (a username or an IIN); staff only, null for applicants.
    async fn uploaded_by(&self) -> Option<&str> {
        self.staff_view.then_some(self.row.uploaded_by.as_str())
    }

    /// A link that downloads it for five minutes, for the caller only (checked against their
    /// scope again when opened).
    async fn download(&self, ctx: &Context<'_>) -> Result<DownloadLink, ApiError> {
        let Some(crate::auth::Auth::Principal(p)) = ctx.data_opt::<crate::auth::Auth>() else {
            return Err(ApiError::Unauthenticated);
        };
        let state = crate::graphql::state(ctx)?;
        // Links are checked by the token library against the real time.
        let (url, expires_at) = crate::links::sign(
            &state.tokens,
            p.subject.clone(),
            &crate::links::file_path(self.row.id),
            &Default::default(),
            Utc::now(),
        )?;
        Ok(DownloadLink::new(url, expires_at))
    }
}
