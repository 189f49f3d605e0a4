//! Files attached to a case: attaching one (GraphQL multipart request: the `file` variable is an
//! `Upload`), and listing a case's files with a short-lived download link each. Scope is the
//! case's: a case the caller cannot see is `NOT_FOUND`, for attaching and for downloading.

use async_graphql::{Context, Enum, Object, Upload, ID};
use chrono::Utc;
use entity::case_file;

use crate::auth::require;
use crate::error::ApiError;
use crate::graphql::cases::load_visible;
use crate::graphql::reports::DownloadLink;
use crate::graphql::scalars::Instant;
use crate::graphql::state;

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

/// The download path of an attachment.
pub fn download_path(id: i64) -> String {
    format!("/files/{id}")
}

/// A file attached to a case: its name, kind, size and SHA-256, when and by whom, and a
/// download link.
#[Object]
impl CaseFile {
    /// The attachment's id.
    async fn id(&self) -> ID {
        ID(self.row.id.to_string())
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

    /// Who attached it (a username or an IIN); staff only, null for applicants.
    async fn uploaded_by(&self) -> Option<&str> {
        self.staff_view.then_some(self.row.uploaded_by.as_str())
    }

    /// A link that downloads it for five minutes, for the caller only (checked against their
    /// scope again when opened).
    async fn download(&self, ctx: &Context<'_>) -> Result<DownloadLink, ApiError> {
        let p = require(ctx, crate::graphql::cases::READERS)?;
        let state = state(ctx)?;
        // Links are checked by the token library against the real time.
        let (url, expires_at) = crate::links::sign(
            &state.tokens,
            p.subject.clone(),
            &download_path(self.row.id),
            &Default::default(),
            Utc::now(),
        )?;
        Ok(DownloadLink::new(url, expires_at))
    }
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
