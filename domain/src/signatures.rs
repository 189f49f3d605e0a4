//! Whether an electronic digital signature (ЭЦҚ) on a document is accepted: the facts are read
//! from the signature and its certificate at the edge (`api::signatures`); the judgement is here.
//! Kazakhstan's national certification authority puts the holder's IIN in the certificate
//! subject's serial number (`IIN850305400120`).

use chrono::{DateTime, Duration, Utc};

/// How far a signature's own signing time may be from the moment it reaches the server: it is
/// made on the signer's device just before it is sent.
pub const SIGNING_TIME_SLACK_MINUTES: i64 = 24 * 60;

/// What was read from a signature and its certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureFacts {
    /// The signature verifies over the document with the certificate's key.
    pub signature_valid: bool,
    /// The certificate was issued (signed) by a trusted certification authority.
    pub issued_by_trusted_ca: bool,
    /// The certificate's validity period.
    pub not_before: DateTime<Utc>,
    /// The end of its validity period.
    pub not_after: DateTime<Utc>,
    /// When the signer says they signed (the signing-time attribute), if they say.
    pub signing_time: Option<DateTime<Utc>>,
    /// When the certificate was revoked, if the configured revocation list names it.
    pub revoked_at: Option<DateTime<Utc>>,
    /// The IIN in the certificate's subject, if any.
    pub iin: Option<String>,
}

/// Why a signature is refused; each has its stable code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// Not a signature over this document by a certificate of a trusted authority, or
    /// unreadable.
    #[error("the signature is not valid: {0}")]
    Invalid(String),
    /// The certificate was not valid when the document was signed.
    #[error("the signing certificate was not valid at signing time")]
    Expired,
    /// The certificate was revoked before the document was signed.
    #[error("the signing certificate is revoked")]
    Revoked,
    /// The certificate belongs to someone else (its IIN is not the expected one).
    #[error("the signature is not the expected person's: the certificate's IIN differs")]
    SignerMismatch,
}

impl SignatureError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            SignatureError::Invalid(_) => "SIGNATURE_INVALID",
            SignatureError::Expired => "CERTIFICATE_EXPIRED",
            SignatureError::Revoked => "CERTIFICATE_REVOKED",
            SignatureError::SignerMismatch => "SIGNER_MISMATCH",
        }
    }
}

/// Judges a signature that reached the server at `now`, expected to be `expected_iin`'s.
/// Returns the signing time it is accepted at.
pub fn judge(
    f: &SignatureFacts,
    expected_iin: &str,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, SignatureError> {
    if !f.signature_valid {
        return Err(SignatureError::Invalid(
            "it does not verify over this document".into(),
        ));
    }
    if !f.issued_by_trusted_ca {
        return Err(SignatureError::Invalid(
            "its certificate is not issued by a trusted authority".into(),
        ));
    }
    let slack = Duration::minutes(SIGNING_TIME_SLACK_MINUTES);
    let at = f.signing_time.unwrap_or(now);
    if at > now + Duration::minutes(5) || at < now - slack {
        return Err(SignatureError::Invalid(
            "its signing time is not the time it was sent".into(),
        ));
    }
    if at < f.not_before || at > f.not_after {
        return Err(SignatureError::Expired);
    }
    if f.revoked_at.is_some_and(|r| r <= at) {
        return Err(SignatureError::Revoked);
    }
    if f.iin.as_deref() != Some(expected_iin) {
        return Err(SignatureError::SignerMismatch);
    }
    Ok(at)
}

/// Whether a revocation list issued at `candidate` (its `thisUpdate`) may replace the list in
/// force, issued at `current`: only a newer one may. An older list would bring revoked
/// certificates back to life (a file restored from a backup, a mirror lagging behind); the
/// same list again changes nothing.
pub fn crl_replaces(current: Option<DateTime<Utc>>, candidate: DateTime<Utc>) -> bool {
    current.is_none_or(|c| candidate > c)
}

/// Whether the revocation list in force is past its `nextUpdate` at `now`: its issuer has
/// published a newer one that this server has not read, so a certificate revoked since would
/// still pass. Operators are warned (log and metric); signatures are still judged against it.
pub fn crl_is_stale(next_update: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    next_update.is_some_and(|n| now > n)
}

/// The IIN in a certificate subject's serial number (`IIN` and twelve digits).
pub fn iin_of_serial_number(serial: &str) -> Option<String> {
    let digits = serial.trim().strip_prefix("IIN")?;
    (digits.len() == 12 && digits.bytes().all(|b| b.is_ascii_digit())).then(|| digits.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000 + h * 3600, 0).expect("instant")
    }

    fn good() -> SignatureFacts {
        SignatureFacts {
            signature_valid: true,
            issued_by_trusted_ca: true,
            not_before: t(-100),
            not_after: t(100),
            signing_time: Some(t(0)),
            revoked_at: None,
            iin: Some("850305400120".into()),
        }
    }

    #[test]
    fn only_a_newer_revocation_list_replaces_the_one_in_force() {
        assert!(crl_replaces(None, t(0)), "the first list is taken");
        assert!(crl_replaces(Some(t(0)), t(1)));
        assert!(!crl_replaces(Some(t(1)), t(1)), "the same list again");
        assert!(!crl_replaces(Some(t(1)), t(0)), "an older list never");
        assert!(!crl_is_stale(None, t(0)), "a list without nextUpdate");
        assert!(!crl_is_stale(Some(t(1)), t(1)));
        assert!(crl_is_stale(Some(t(1)), t(2)));
    }

    #[test]
    fn each_failure_has_its_code_in_order_of_seriousness() {
        assert_eq!(judge(&good(), "850305400120", t(0)), Ok(t(0)));
        let code = |f: SignatureFacts| judge(&f, "850305400120", t(0)).map_err(|e| e.code());
        assert_eq!(
            code(SignatureFacts {
                signature_valid: false,
                ..good()
            }),
            Err("SIGNATURE_INVALID")
        );
        assert_eq!(
            code(SignatureFacts {
                issued_by_trusted_ca: false,
                ..good()
            }),
            Err("SIGNATURE_INVALID")
        );
        assert_eq!(
            code(SignatureFacts {
                not_after: t(-1),
                ..good()
            }),
            Err("CERTIFICATE_EXPIRED")
        );
        assert_eq!(
            code(SignatureFacts {
                not_before: t(1),
                ..good()
            }),
            Err("CERTIFICATE_EXPIRED")
        );
        assert_eq!(
            code(SignatureFacts {
                revoked_at: Some(t(-1)),
                ..good()
            }),
            Err("CERTIFICATE_REVOKED")
        );
        assert_eq!(
            code(SignatureFacts {
                revoked_at: Some(t(1)),
                ..good()
            }),
            Ok(t(0)),
            "revoked after signing"
        );
        assert_eq!(
            code(SignatureFacts {
                iin: Some("900101300017".into()),
                ..good()
            }),
            Err("SIGNER_MISMATCH")
        );
        assert_eq!(
            code(SignatureFacts {
                iin: None,
                ..good()
            }),
            Err("SIGNER_MISMATCH")
        );
        assert_eq!(
            code(SignatureFacts {
                signing_time: Some(t(48)),
                ..good()
            }),
            Err("SIGNATURE_INVALID"),
            "from the future"
        );
    }

    #[test]
    fn the_iin_is_read_from_the_subjects_serial_number() {
        assert_eq!(
            iin_of_serial_number("IIN850305400120").as_deref(),
            Some("850305400120")
        );
        assert_eq!(iin_of_serial_number("BIN850305400120"), None);
        assert_eq!(iin_of_serial_number("IIN85030540012"), None);
    }
}
