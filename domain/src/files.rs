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

    /// The file name extensions of this kind, the usual one first.
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            FileKind::Pdf => &[".pdf"],
            FileKind::Jpeg => &[".jpg", ".jpeg"],
            FileKind::Png => &[".png"],
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

/// The name a file is shown under: what the client called it, without any directory part,
/// control characters or invisible format characters (bidirectional overrides and isolates,
/// which make `invoice\u{202E}fdp.exe` read as `invoiceexe.pdf`, zero-width characters, the
/// byte-order mark), at most [`MAX_NAME_CHARS`] characters; `None` when nothing is left.
pub fn display_name(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let clean: String = base
        .chars()
        .filter(|c| !c.is_control() && !is_format(*c))
        .take(MAX_NAME_CHARS)
        .collect();
    let clean = clean.trim().to_owned();
    (!clean.is_empty()).then_some(clean)
}

/// Unicode's invisible format characters (general category Cf) that can appear in a name:
/// they change how a name reads, never what it says.
fn is_format(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
    )
}

/// The name a file downloads under: its display name with the extension its content has (a
/// PDF named `page.html` downloads as `page.html.pdf`), so that nothing opens it as something
/// it is not.
pub fn download_name(display: &str, kind: FileKind) -> String {
    let lower = display.to_lowercase();
    if kind.extensions().iter().any(|e| lower.ends_with(e)) {
        display.to_owned()
    } else {
        format!("{display}{}", kind.extensions()[0])
    }
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
        // A right-to-left override would show `invoiceexe.pdf`.
        assert_eq!(
            display_name("invoice\u{202E}fdp.exe").as_deref(),
            Some("invoicefdp.exe")
        );
        assert_eq!(
            display_name("\u{FEFF}scan\u{200B}\u{2066}.pdf\u{2069}").as_deref(),
            Some("scan.pdf")
        );
        assert_eq!(display_name("\u{202E}\u{200F}"), None);
        assert_eq!(
            display_name(&"ә".repeat(500)).map(|n| n.chars().count()),
            Some(MAX_NAME_CHARS)
        );
    }

    #[test]
    fn a_download_carries_the_extension_of_its_content() {
        assert_eq!(download_name("page.html", FileKind::Pdf), "page.html.pdf");
        assert_eq!(download_name("скан.PDF", FileKind::Pdf), "скан.PDF");
        assert_eq!(download_name("photo.jpeg", FileKind::Jpeg), "photo.jpeg");
        assert_eq!(download_name("photo", FileKind::Png), "photo.png");
        assert_eq!(download_name("x.pdf", FileKind::Png), "x.pdf.png");
    }
}
