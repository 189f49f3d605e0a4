//! Files attached to a case: attaching one (GraphQL multipart request: the `file` variable is an
//! `Upload`), and listing a case's files with a short-lived download link each. Scope is the
//! case's: a case the caller cannot see is `NOT_FOUND`, for attaching and for downloading.

use async_graphql::{Context, Object, Upload, ID};

use crate::auth::require;
use crate::error::ApiError;
use crate::graphql::cases::load_visible;
use crate::graphql::documents::CaseFile;
use crate::graphql::state;

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
        let stored = files.put(upload.content).await?;
        let state = state(ctx)?;
        let actor = p.actor_name();
        let row =
            crate::store::files::attach(state, case.id, &name, &stored, &actor, state.clock.now())
                .await?;
        Ok(CaseFile::new(
            row,
            domain::view::shows_staff_names(domain::view::Audience::of(p.role)),
        ))
    }
}
