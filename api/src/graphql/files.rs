//! Files attached to a case: attaching one (GraphQL multipart request: the `file` variable is an
//! `Upload`), and listing a case's files with a short-lived download link each. Scope is the
//! case's: a case the caller cannot see is `NOT_FOUND`, for attaching and for downloading.

use async_graphql::{Context, Object, Upload, ID};
use sea_orm::EntityTrait;

use crate::auth::require;
use crate::error::ApiError;
use crate::graphql::cases::load_visible;
use crate::graphql::documents::CaseFile;
use crate::graphql::state;

/// Checks a signature over a checked file as `p`'s; returns the signer's IIN and the signing
/// time, or the signature's typed refusal.
async fn signed(
    ctx: &Context<'_>,
    state: &crate::state::AppState,
    p: &crate::auth::Principal,
    signature: &Upload,
    stored: &crate::files::Stored,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(String, chrono::DateTime<chrono::Utc>), ApiError> {
    use std::io::Read;
    let value = signature
        .value(ctx)
        .map_err(|e| ApiError::BadUserInput(format!("no signature file: {e}")))?;
    let mut bytes = Vec::new();
    value
        .content
        .take(crate::signatures::MAX_SIGNATURE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(ApiError::internal)?;
    if bytes.len() > crate::signatures::MAX_SIGNATURE_BYTES {
        return Err(ApiError::PayloadTooLarge {
            limit: crate::signatures::MAX_SIGNATURE_BYTES,
        });
    }
    let trust = ctx
        .data::<crate::signatures::Trust>()
        .map_err(|_| ApiError::internal(std::io::Error::other("trust not attached")))?;
    let digest: Vec<u8> = (0..stored.sha256.len())
        .step_by(2)
        .filter_map(|i| u8::from_str_radix(stored.sha256.get(i..i + 2)?, 16).ok())
        .collect();
    let refused = |e: domain::signatures::SignatureError| ApiError::Rule {
        code: e.code(),
        message: e.to_string(),
    };
    let facts = trust.check(bytes, digest).await.map_err(refused)?;
    // Whose signature it must be: an applicant's own IIN, or the IIN registered for a staff
    // member (a head signing a result); none registered, no match.
    let expected = match p.subject {
        crate::auth::Subject::Applicant(id) => entity::applicant::Entity::find_by_id(id)
            .one(&state.db)
            .await?
            .map(|a| a.iin),
        crate::auth::Subject::User(id) => entity::app_user::Entity::find_by_id(id)
            .one(&state.db)
            .await?
            .and_then(|u| u.iin),
    }
    .ok_or_else(|| ApiError::Rule {
        code: "SIGNER_MISMATCH",
        message: "no IIN is registered for this account to match a signature to".into(),
    })?;
    let at = domain::signatures::judge(&facts, &expected, now).map_err(refused)?;
    Ok((expected, at))
}

/// Attaching files.
#[derive(Default)]
pub struct FileMutation;

#[Object]
impl FileMutation {
    /// Attaches a file to a case the caller can see (a GraphQL multipart request: send the
    /// file as the `file` variable). PDF, JPEG or PNG by content; larger than the server's limit
    /// is `PAYLOAD_TOO_LARGE` (with `extensions.limit`); another kind is `BAD_USER_INPUT`; a case
    /// outside the caller's scope is `NOT_FOUND`; a closed case is `INVALID_TRANSITION`. The
    /// file's SHA-256 enters the case's event chain. Nothing is recorded when it fails.
    async fn attach_file(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The case.")] case_id: ID,
        #[graphql(desc = "The file.")] file: Upload,
        #[graphql(
            desc = "A detached CMS (PKCS #7) signature over the file, DER or PEM, made with the \
                    signer's ЭЦҚ (RSA, SHA-256): checked against the trusted authorities and the \
                    revocation list, and the certificate's IIN against the applicant's. Refused: \
                    `SIGNATURE_INVALID`, `CERTIFICATE_EXPIRED`, `CERTIFICATE_REVOKED`, \
                    `SIGNER_MISMATCH` — and nothing is attached."
        )]
        signature: Option<Upload>,
    ) -> Result<CaseFile, ApiError> {
        let p = require(ctx, crate::graphql::cases::READERS)?;
        let case = load_visible(ctx, &case_id).await?;
        let stage = domain::case::Stage::parse(&case.stage)
            .ok_or_else(|| ApiError::internal(std::io::Error::other("unknown stored stage")))?;
        domain::files::may_attach(p.role, stage).map_err(|e| match e {
            domain::files::AttachError::Role => ApiError::Forbidden,
            domain::files::AttachError::Closed => ApiError::Rule {
                code: "INVALID_TRANSITION",
                message: e.to_string(),
            },
        })?;
        let upload = file
            .value(ctx)
            .map_err(|e| ApiError::BadUserInput(format!("no file: {e}")))?;
        let name = domain::files::display_name(&upload.filename)
            .ok_or_else(|| ApiError::BadUserInput("the file has no name".into()))?;
        let files = ctx
            .data::<crate::files::FileStore>()
            .map_err(|_| ApiError::internal(std::io::Error::other("file store not attached")))?;
        let state = state(ctx)?;
        let now = state.clock.now();
        let copy = upload.content.try_clone().map_err(ApiError::internal)?;
        let stored = files.check(upload.content).await?;
        let signed = match signature {
            None => None,
            Some(s) => Some(signed(ctx, state, p, &s, &stored, now).await?),
        };
        files.store(copy, &stored).await?;
        let actor = p.actor_name();
        let row = crate::store::files::attach(state, case.id, &name, &stored, signed, &actor, now)
            .await?;
        Ok(CaseFile::new(
            row,
            domain::view::shows_staff_names(domain::view::Audience::of(p.role)),
        ))
    }
}
