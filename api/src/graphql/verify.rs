//! Public verification of a document by its registration number — what the QR code on a printed
//! receipt opens (served as a page at `GET /verify/{number}`): `Query.verifyDocument`. It says whether
//! such a case exists, where it stands and, for each document the applicant was given, its kind,
//! when it was issued and its SHA-256 — and nothing personal (no name, IIN, address or staff
//! member). What is shown is `domain::view::verification`.

use async_graphql::{Context, Enum, Object, SimpleObject};

use crate::error::ApiError;
use crate::graphql::documents::PublicProgress;
use crate::graphql::scalars::Instant;
use crate::state::AppState;

/// The longest number looked up.
const MAX_NUMBER: usize = 40;

/// A kind of legal document.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "domain::view::DocumentKind")]
pub enum DocumentKind {
    /// The receipt (қолхат) given at acceptance.
    Receipt,
    /// The refusal receipt at intake (documents missing or expired).
    RefusalReceipt,
    /// The reasoned refusal (дәлелді жауап), signed.
    ReasonedRefusal,
    /// The result of the service, issued.
    ServiceResult,
}

/// A document as the public verification shows it.
#[derive(SimpleObject)]
pub struct VerifiedDocument {
    /// Its kind.
    pub kind: DocumentKind,
    /// When it was issued.
    pub issued_at: Instant,
    /// The SHA-256 of its content, hex (printed on the document).
    pub sha256: String,
}

/// The answer of a public verification.
#[derive(SimpleObject)]
pub struct Verification {
    /// The number asked about.
    pub number: String,
    /// Whether a case with this registration number exists.
    pub exists: bool,
    /// Where it stands (the applicant's public label); null when it does not exist.
    pub progress: Option<PublicProgress>,
    /// The documents issued to the applicant, in the order of the case's life.
    pub documents: Vec<VerifiedDocument>,
}

/// Looks a number up.
pub async fn verify(state: &AppState, number: &str) -> Result<Verification, ApiError> {
    let number = number.trim().to_uppercase();
    if number.is_empty() || number.len() > MAX_NUMBER {
        return Err(ApiError::BadUserInput(format!(
            "a registration number has 1–{MAX_NUMBER} characters"
        )));
    }
    // The same text rules as everywhere (a NUL reached PostgreSQL and answered 500).
    if number.chars().any(crate::graphql::guard::forbidden_char) {
        return Err(ApiError::BadUserInput(
            "a registration number has no control characters".into(),
        ));
    }
    let Some(model) = crate::store::cases::find_by_number(&state.db, &number).await? else {
        return Ok(Verification {
            number,
            exists: false,
            progress: None,
            documents: Vec::new(),
        });
    };
    let c = crate::store::case_rows::record(&model)?;
    let v = domain::view::verification(domain::view::Documents {
        number: &c.number,
        status: c.status,
        stage: c.stage,
        receipt: c.receipt.as_ref(),
        refusal: c.refusal.as_ref(),
        result: c.result.as_ref(),
    });
    Ok(Verification {
        number: v.number,
        exists: true,
        progress: Some(v.progress.into()),
        documents: v
            .documents
            .into_iter()
            .map(|d| VerifiedDocument {
                kind: d.kind.into(),
                issued_at: d.issued_at.into(),
                sha256: d.sha256,
            })
            .collect(),
    })
}

/// The public verification query.
#[derive(Default)]
pub struct VerifyQuery;

#[Object]
impl VerifyQuery {
    /// Checks a registration number, as the QR code on a printed document does; no sign-in.
    /// Tells whether the case exists, where it stands and the hashes of the documents issued —
    /// nothing personal. At most `verify_per_minute` (60) a minute per client address, with
    /// `GET /verify/{number}`; past it `RATE_LIMITED` (HTTP 429, `extensions.retryAfter`).
    async fn verify_document(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The registration number printed on the document.")] number: String,
    ) -> Result<Verification, ApiError> {
        if let Ok(limiter) = ctx.data::<crate::throttle::PublicLimiter>() {
            let client = ctx.data_opt::<crate::auth::ClientAddr>();
            limiter.check(client.map(|c| c.0.as_str()).unwrap_or_default())?;
        }
        verify(crate::graphql::state(ctx)?, &number).await
    }
}
