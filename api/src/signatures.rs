//! Detached CMS (PKCS #7) signatures over attached files, checked against the trusted
//! certification authorities and the revocation list from the settings. This module reads the
//! facts — does the signature verify over the file, with which certificate, issued by whom,
//! valid when, revoked when, whose IIN — and `domain::signatures::judge` decides.
//! Only RSA with SHA-256 is accepted (what Kazakhstan's national CA issues).

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier};
use der::asn1::{ObjectIdentifier, OctetString};
use der::{Decode, Encode};
use domain::signatures::{SignatureError, SignatureFacts};
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::signature::Verifier as _;
use rsa::RsaPublicKey;
use sha2::Sha256;
use x509_cert::crl::CertificateList;
use x509_cert::Certificate;

const SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const SIGNING_TIME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.5");
const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const SERIAL_NUMBER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.5");

/// The largest signature file accepted (a signature with its certificate is a few KiB).
pub const MAX_SIGNATURE_BYTES: usize = 64 * 1024;

/// The trust settings: the authorities and the revocation list (schema data; clones share the
/// list, so a list re-read by [`Trust::reload_crl`] is in force for every request at once).
#[derive(Clone)]
pub struct Trust {
    cas: Arc<Vec<Certificate>>,
    crl: Arc<RwLock<Option<Arc<CertificateList>>>>,
    /// Signature checks running at once, off the web workers (see [`Trust::check`]).
    checks: Arc<tokio::sync::Semaphore>,
}

/// Signature checks that may run at once on a node: each is CPU work (RSA, certificate
/// parsing) on the blocking pool, never on a web worker; more wait their turn.
pub const CONCURRENT_CHECKS: usize = 2;

impl Default for Trust {
    fn default() -> Trust {
        Trust {
            cas: Arc::default(),
            crl: Arc::default(),
            checks: Arc::new(tokio::sync::Semaphore::new(CONCURRENT_CHECKS)),
        }
    }
}

/// What re-reading the revocation list did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrlReload {
    /// A newer list is in force, issued at this time.
    Replaced(DateTime<Utc>),
    /// The file holds the list already in force.
    Unchanged,
}

fn invalid(why: impl Into<String>) -> SignatureError {
    SignatureError::Invalid(why.into())
}

/// Whether `signature` by the key in `spki` verifies over `message` (RSA PKCS #1 v1.5, SHA-256).
fn rsa_verifies(
    spki: &x509_cert::spki::SubjectPublicKeyInfoOwned,
    message: &[u8],
    signature: &[u8],
) -> bool {
    let Ok(der) = spki.to_der() else { return false };
    let Ok(key) = <RsaPublicKey as rsa::pkcs8::DecodePublicKey>::from_public_key_der(&der) else {
        return false;
    };
    let Ok(sig) = Signature::try_from(signature) else {
        return false;
    };
    VerifyingKey::<Sha256>::new(key)
        .verify(message, &sig)
        .is_ok()
}

fn when(t: &x509_cert::time::Time) -> DateTime<Utc> {
    DateTime::from_timestamp(t.to_unix_duration().as_secs() as i64, 0).unwrap_or_default()
}

/// Reads PEM (one or more blocks) or DER certificates.
fn read_certificates(bytes: &[u8]) -> Result<Vec<Certificate>, String> {
    if bytes.starts_with(b"-----") {
        Certificate::load_pem_chain(bytes).map_err(|e| e.to_string())
    } else {
        Certificate::from_der(bytes)
            .map(|c| vec![c])
            .map_err(|e| e.to_string())
    }
}

/// Reads a revocation list (PEM or DER) and checks that a trusted authority signed it.
fn read_crl(path: &Path, cas: &[Certificate]) -> Result<CertificateList, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let der = if bytes.starts_with(b"-----") {
        pem_to_der(&bytes).ok_or_else(|| format!("{}: unreadable PEM", path.display()))?
    } else {
        bytes
    };
    let list = CertificateList::from_der(&der).map_err(|e| format!("{}: {e}", path.display()))?;
    let tbs = list.tbs_cert_list.to_der().map_err(|e| e.to_string())?;
    let signed = cas.iter().any(|ca| {
        ca.tbs_certificate.subject == list.tbs_cert_list.issuer
            && rsa_verifies(
                &ca.tbs_certificate.subject_public_key_info,
                &tbs,
                list.signature.raw_bytes(),
            )
    });
    if !signed {
        return Err(format!(
            "{}: the revocation list is not signed by a trusted authority",
            path.display()
        ));
    }
    Ok(list)
}

impl Trust {
    /// Loads the authorities' certificates and the revocation list (PEM or DER). The list must be
    /// signed by one of the authorities.
    pub fn load(cas: &[PathBuf], crl: Option<&PathBuf>) -> Result<Trust, String> {
        let mut trusted = Vec::new();
        for path in cas {
            let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
            trusted
                .extend(read_certificates(&bytes).map_err(|e| format!("{}: {e}", path.display()))?);
        }
        let crl = crl
            .map(|path| read_crl(path, &trusted))
            .transpose()?
            .map(Arc::new);
        Ok(Trust {
            cas: Arc::new(trusted),
            crl: Arc::new(RwLock::new(crl)),
            ..Trust::default()
        })
    }

    /// The revocation list in force, if any.
    fn current_crl(&self) -> Option<Arc<CertificateList>> {
        match self.crl.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// When the list in force was issued and when its issuer promised the next (`thisUpdate`,
    /// `nextUpdate`).
    pub fn crl_dates(&self) -> Option<(DateTime<Utc>, Option<DateTime<Utc>>)> {
        self.current_crl().map(|l| {
            let tbs = &l.tbs_cert_list;
            (when(&tbs.this_update), tbs.next_update.as_ref().map(when))
        })
    }

    /// Re-reads the revocation list at `path` (its issuer publishes a new one every few hours)
    /// and puts it in force when it is readable, signed by a trusted authority and newer than
    /// the one in force (`domain::signatures::crl_replaces`). Otherwise the list in force stays
    /// and the error says why.
    pub fn reload_crl(&self, path: &Path) -> Result<CrlReload, String> {
        let list = read_crl(path, &self.cas)?;
        let issued = when(&list.tbs_cert_list.this_update);
        let mut slot = match self.crl.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let current = slot.as_ref().map(|l| when(&l.tbs_cert_list.this_update));
        if current == Some(issued) {
            return Ok(CrlReload::Unchanged);
        }
        if !domain::signatures::crl_replaces(current, issued) {
            return Err(format!(
                "{}: issued {issued}, older than the list in force (issued {}); kept the list in force",
                path.display(),
                current.map(|c| c.to_string()).unwrap_or_default()
            ));
        }
        *slot = Some(Arc::new(list));
        Ok(CrlReload::Replaced(issued))
    }

    /// [`Trust::facts`] on the blocking pool, at most [`CONCURRENT_CHECKS`] at once: a web
    /// worker never parses a signature, so a hostile one cannot stall the node's other
    /// requests (health checks included).
    pub async fn check(
        &self,
        signature: Vec<u8>,
        digest: Vec<u8>,
    ) -> Result<SignatureFacts, SignatureError> {
        let _permit = self
            .checks
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| invalid("the server is stopping"))?;
        let trust = self.clone();
        actix_web::rt::task::spawn_blocking(move || trust.facts(&signature, &digest))
            .await
            .map_err(|_| invalid("the check did not finish"))?
    }

    /// The facts of a detached signature (`signature`: DER or PEM CMS `SignedData`) over content
    /// whose SHA-256 is `digest`. Its shape is checked first ([`domain::der_shape::SIGNATURE`]):
    /// no decoder sees a structure no real signature has.
    pub fn facts(&self, signature: &[u8], digest: &[u8]) -> Result<SignatureFacts, SignatureError> {
        if self.cas.is_empty() {
            return Err(invalid("no trusted certification authority is configured"));
        }
        let der_bytes;
        let bytes = if signature.starts_with(b"-----") {
            der_bytes = pem_to_der(signature).ok_or_else(|| invalid("unreadable PEM"))?;
            &der_bytes[..]
        } else {
            signature
        };
        domain::der_shape::check(bytes, domain::der_shape::SIGNATURE)
            .map_err(|e| invalid(format!("refused unread: {e}")))?;
        let ci = ContentInfo::from_der(bytes).map_err(|_| invalid("not a CMS structure"))?;
        if ci.content_type != SIGNED_DATA {
            return Err(invalid("not a CMS SignedData"));
        }
        let sd: SignedData = ci
            .content
            .decode_as()
            .map_err(|_| invalid("unreadable SignedData"))?;
        if sd.encap_content_info.econtent.is_some() {
            return Err(invalid(
                "expected a detached signature (the file itself is sent apart)",
            ));
        }
        let si = sd
            .signer_infos
            .0
            .iter()
            .next()
            .ok_or_else(|| invalid("no signer"))?;
        if si.digest_alg.oid != SHA256 {
            return Err(invalid("only SHA-256 digests are accepted"));
        }
        let certs: Vec<&Certificate> = sd
            .certificates
            .iter()
            .flat_map(|set| set.0.iter())
            .filter_map(|c| match c {
                CertificateChoices::Certificate(c) => Some(c),
                _ => None,
            })
            .collect();
        let cert = match &si.sid {
            SignerIdentifier::IssuerAndSerialNumber(id) => certs.iter().find(|c| {
                c.tbs_certificate.serial_number == id.serial_number
                    && c.tbs_certificate.issuer == id.issuer
            }),
            SignerIdentifier::SubjectKeyIdentifier(_) => certs.first(),
        }
        .copied()
        .ok_or_else(|| invalid("the signer's certificate is not included"))?;
        let attrs = si
            .signed_attrs
            .as_ref()
            .ok_or_else(|| invalid("no signed attributes"))?;
        let attr = |oid: ObjectIdentifier| {
            attrs
                .iter()
                .find(|a| a.oid == oid)
                .and_then(|a| a.values.iter().next())
        };
        let signed_digest = attr(MESSAGE_DIGEST)
            .and_then(|v| v.decode_as::<OctetString>().ok())
            .ok_or_else(|| invalid("no message digest"))?;
        let signing_time = attr(SIGNING_TIME)
            .and_then(|v| v.to_der().ok())
            .and_then(|d| x509_cert::time::Time::from_der(&d).ok())
            .map(|t| when(&t));
        let attrs_der = attrs
            .to_der()
            .map_err(|_| invalid("unreadable signed attributes"))?;
        let spki = &cert.tbs_certificate.subject_public_key_info;
        let signature_valid = signed_digest.as_bytes() == digest
            && rsa_verifies(spki, &attrs_der, si.signature.as_bytes());
        let tbs = cert
            .tbs_certificate
            .to_der()
            .map_err(|_| invalid("unreadable certificate"))?;
        let issued_by_trusted_ca = self.cas.iter().any(|ca| {
            ca.tbs_certificate.subject == cert.tbs_certificate.issuer
                && rsa_verifies(
                    &ca.tbs_certificate.subject_public_key_info,
                    &tbs,
                    cert.signature.raw_bytes(),
                )
        });
        let revoked_at = self.current_crl().and_then(|crl| {
            (crl.tbs_cert_list.issuer == cert.tbs_certificate.issuer)
                .then_some(crl.tbs_cert_list.revoked_certificates.as_ref())
                .flatten()
                .and_then(|revoked| {
                    revoked
                        .iter()
                        .find(|r| r.serial_number == cert.tbs_certificate.serial_number)
                        .map(|r| when(&r.revocation_date))
                })
        });
        let iin = cert
            .tbs_certificate
            .subject
            .0
            .iter()
            .flat_map(|rdn| rdn.0.iter())
            .find_map(|atv| {
                (atv.oid == SERIAL_NUMBER)
                    .then(|| {
                        atv.value
                            .decode_as::<der::asn1::PrintableStringRef<'_>>()
                            .map(|s| s.as_str().to_owned())
                            .or_else(|_| atv.value.decode_as::<String>())
                            .ok()
                    })
                    .flatten()
                    .and_then(|s| domain::signatures::iin_of_serial_number(&s))
            });
        let validity = &cert.tbs_certificate.validity;
        Ok(SignatureFacts {
            signature_valid,
            issued_by_trusted_ca,
            not_before: when(&validity.not_before),
            not_after: when(&validity.not_after),
            signing_time,
            revoked_at,
            iin,
        })
    }
}

/// How often the revocation list's file is looked at; it is re-read when it changed.
pub const CRL_RELOAD_EVERY: std::time::Duration = std::time::Duration::from_secs(300);

/// Re-reads the revocation list at `path` every `every` ([`CRL_RELOAD_EVERY`]) when the file
/// changed (its issuer publishes a new one every few hours; whatever fetches it writes the
/// file), and warns while the list in force is past its `nextUpdate`. A file that cannot be
/// used leaves the list in force (and is counted: `qyzmet_crl_reload_failures_total`).
pub fn watch_crl(trust: Trust, path: PathBuf, every: std::time::Duration) {
    actix_web::rt::spawn(async move {
        let modified = |p: &std::path::Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        // Nothing seen yet: the first look re-reads the file, in case it changed after the
        // list in force was loaded (it is `Unchanged` otherwise).
        let mut seen = None;
        loop {
            if let Some((this, next)) = trust.crl_dates() {
                crate::metrics::crl_dates(this, next);
                if domain::signatures::crl_is_stale(next, chrono::Utc::now()) {
                    tracing::warn!(
                        path = %path.display(),
                        next_update = ?next,
                        "the revocation list in force is past its nextUpdate: revocations since are not known"
                    );
                }
            }
            actix_web::rt::time::sleep(every).await;
            let now_seen = modified(&path);
            if now_seen == seen {
                continue;
            }
            let (trust, p) = (trust.clone(), path.clone());
            let reloaded = actix_web::rt::task::spawn_blocking(move || trust.reload_crl(&p))
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r);
            // A file that could not be used is tried again next time (it may have been caught
            // half written), and warned about each time until it is fixed.
            match reloaded {
                Ok(CrlReload::Replaced(issued)) => {
                    seen = now_seen;
                    tracing::info!(path = %path.display(), %issued, "revocation list replaced")
                }
                Ok(CrlReload::Unchanged) => seen = now_seen,
                Err(e) => {
                    crate::metrics::crl_reload_failed();
                    tracing::warn!(error = %e, "revocation list not replaced");
                }
            }
        }
    });
}

/// The DER inside a PEM block.
fn pem_to_der(pem: &[u8]) -> Option<Vec<u8>> {
    use base64::Engine;
    let text = std::str::from_utf8(pem).ok()?;
    let body: String = text
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::trim)
        .collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}
