//! Files attached to a case (scans of the documents the Standard requires, the signed result):
//! which kinds are accepted — by their content, never their name — who may attach them, and the
//! name a file is shown under.

use crate::case::Stage;
use crate::identity::Role;

/// The kinds of file a case accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// A PDF document.
    Pdf,
    /// A JPEG photograph or scan.
    Jpeg,
    /// A PNG image.
    Png,
}

/// How many leading bytes [`FileKind::sniff`] needs.
pub const SNIFF_BYTES: usize = 8;

/// The longest name a file is shown under (characters).
pub const MAX_NAME_CHARS: usize = 200;

impl FileKind {
    /// The kind a file's first bytes say it is (its signature), if one accepted.
    pub fn sniff(head: &[u8]) -> Option<FileKind> {
        if head.starts_with(b"%PDF-") {
            Some(FileKind::Pdf)
        } else if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(FileKind::Jpeg)
        } else if head.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
            Some(FileKind::Png)
        } else {
            None
        }
    }

    /// Its media type, as stored and sent on download.
    pub fn media_type(self) -> &'static str {
        match self {
            FileKind::Pdf => "application/pdf",
            FileKind::Jpeg => "image/jpeg",
            FileKind::Png => "image/png",
        }
    }

    /// The kind of a stored media type.
    pub fn parse(media_type: &str) -> Option<FileKind> {
        [FileKind::Pdf, FileKind::Jpeg, FileKind::Png]
            .into_iter()
            .find(|k| k.media_type() == media_type)
    }
}

/// Why a file may not be attached.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AttachError {
    /// The role reads cases but never adds to them (analysts, administrators).
    #[error("this role does not attach files to cases")]
    Role,
    /// The case is closed: its file is complete.
    #[error("the case is closed; nothing more can be attached")]
    Closed,
}

/// Whether someone in `role` (who can see the case) may attach a file to a case at `stage`:
/// the applicant (their own application, through the portal) and the staff who handle cases
/// (counter, office, head, executor), while the case is open.
pub fn may_attach(role: Role, stage: Stage) -> Result<(), AttachError> {
    match role {
        Role::Analyst | Role::Admin => Err(AttachError::Role),
        _ if stage == Stage::Closed => Err(AttachError::Closed),
        _ => Ok(()),
    }
}

/// The name a file is shown under: what the client called it, without any directory part or
/// control characters, at most [`MAX_NAME_CHARS`] characters; `None` when nothing is left.
pub fn display_name(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let clean: String = base
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME_CHARS)
        .collect();
    let clean = clean.trim().to_owned();
    (!clean.is_empty()).then_some(clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_read_from_content_not_names() {
        assert_eq!(FileKind::sniff(b"%PDF-1.7\n"), Some(FileKind::Pdf));
        assert_eq!(
            FileKind::sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10]),
            Some(FileKind::Jpeg)
        );
        assert_eq!(
            FileKind::sniff(b"\x89PNG\r\n\x1a\n\0\0"),
            Some(FileKind::Png)
        );
        assert_eq!(FileKind::sniff(b"MZ\x90\0 an executable"), None);
        assert_eq!(FileKind::sniff(b"<html>"), None);
        assert_eq!(FileKind::sniff(b""), None);
        for k in [FileKind::Pdf, FileKind::Jpeg, FileKind::Png] {
            assert_eq!(FileKind::parse(k.media_type()), Some(k));
        }
    }

    #[test]
    fn readers_and_closed_cases_take_no_files() {
        assert_eq!(may_attach(Role::Applicant, Stage::Intake), Ok(()));
        assert_eq!(may_attach(Role::Executor, Stage::Prepare), Ok(()));
        assert_eq!(
            may_attach(Role::Analyst, Stage::Intake),
            Err(AttachError::Role)
        );
        assert_eq!(
            may_attach(Role::OfficeClerk, Stage::Closed),
            Err(AttachError::Closed)
        );
    }

    #[test]
    fn names_lose_paths_and_control_characters() {
        assert_eq!(
            display_name("C:\\Users\\a\\паспорт.pdf").as_deref(),
            Some("паспорт.pdf")
        );
        assert_eq!(
            display_name("../../etc/passwd\u{0}").as_deref(),
            Some("passwd")
        );
        assert_eq!(display_name(" \n "), None);
        assert_eq!(
            display_name(&"ә".repeat(500)).map(|n| n.chars().count()),
            Some(MAX_NAME_CHARS)
        );
    }
}
