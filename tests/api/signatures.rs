//! Signed attachments: a detached CMS signature over a file, checked against a test
//! certification authority the test creates (RSA 2048, SHA-256, the IIN in the subject's serial
//! number, as Kazakhstan's national CA issues them) and its revocation list. Good, tampered,
//! untrusted, expired, revoked and someone else's signatures; a refused one attaches nothing.

use std::str::FromStr;
use std::time::{Duration, SystemTime};

use cms::builder::{create_signing_time_attribute, SignedDataBuilder, SignerInfoBuilder};
use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::signed_data::{EncapsulatedContentInfo, SignerIdentifier};
use der::asn1::{BitString, ObjectIdentifier};
use der::{Encode, EncodePem};
use domain::identity::Role;
use rsa::pkcs1v15::SigningKey;
use rsa::signature::{SignatureEncoding, Signer};
use rsa::RsaPrivateKey;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use x509_cert::builder::{Builder, CertificateBuilder, Profile};
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::time::{Time, Validity};
use x509_cert::Certificate;

use crate::cases::{application, open, People};
use crate::helpers::{error_code, field, file, post_multipart, spawn_app_with, TestApp};

const IIN: &str = "850305400120";
const OTHER_IIN: &str = "900101300017";
const HEAD_IIN: &str = "750414300026";
const SHA256_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const SHA256_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");

struct Ca {
    key: SigningKey<Sha256>,
    cert: Certificate,
}

fn key() -> RsaPrivateKey {
    RsaPrivateKey::new(&mut rand::thread_rng(), 2048).expect("an RSA key")
}

fn time(t: SystemTime) -> Time {
    Time::try_from(t).expect("a time")
}

fn ca(name: &str) -> Ca {
    let k = key();
    let signer = SigningKey::<Sha256>::new(k.clone());
    let spki = SubjectPublicKeyInfoOwned::from_key(k.to_public_key()).expect("spki");
    let subject = Name::from_str(&format!("CN={name},O=qyzmet tests,C=KZ")).expect("name");
    let validity = Validity::from_now(Duration::from_secs(3600 * 24 * 365)).expect("validity");
    let cert = CertificateBuilder::new(
        Profile::Root,
        SerialNumber::from(1u32),
        validity,
        subject,
        spki,
        &signer,
    )
    .expect("builder")
    .build::<rsa::pkcs1v15::Signature>()
    .expect("CA certificate");
    Ca { key: signer, cert }
}

/// A person's certificate from `ca`, valid over `validity`.
fn person(
    ca: &Ca,
    serial: u32,
    iin: &str,
    validity: Validity,
) -> (SigningKey<Sha256>, Certificate) {
    let k = key();
    let spki = SubjectPublicKeyInfoOwned::from_key(k.to_public_key()).expect("spki");
    let subject =
        Name::from_str(&format!("CN=Test Person {iin},serialNumber=IIN{iin},C=KZ")).expect("name");
    let cert = CertificateBuilder::new(
        Profile::Leaf {
            issuer: ca.cert.tbs_certificate.subject.clone(),
            enable_key_agreement: false,
            enable_key_encipherment: false,
        },
        SerialNumber::from(serial),
        validity,
        subject,
        spki,
        &ca.key,
    )
    .expect("builder")
    .build::<rsa::pkcs1v15::Signature>()
    .expect("certificate");
    (SigningKey::<Sha256>::new(k), cert)
}

/// A detached CMS signature over `content` (DER).
fn sign(key: &SigningKey<Sha256>, cert: &Certificate, content: &[u8]) -> Vec<u8> {
    let digest = Sha256::digest(content).to_vec();
    let eci = EncapsulatedContentInfo {
        econtent_type: DATA,
        econtent: None,
    };
    let alg = AlgorithmIdentifierOwned {
        oid: SHA256_OID,
        parameters: None,
    };
    let sid = SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
        issuer: cert.tbs_certificate.issuer.clone(),
        serial_number: cert.tbs_certificate.serial_number.clone(),
    });
    let mut info =
        SignerInfoBuilder::new(key, sid, alg.clone(), &eci, Some(&digest)).expect("signer");
    info.add_signed_attribute(create_signing_time_attribute().expect("time"))
        .expect("attribute");
    SignedDataBuilder::new(&eci)
        .add_digest_algorithm(alg)
        .expect("digest")
        .add_certificate(CertificateChoices::Certificate(cert.clone()))
        .expect("certificate")
        .add_signer_info::<_, rsa::pkcs1v15::Signature>(info)
        .expect("signer info")
        .build()
        .expect("signed data")
        .to_der()
        .expect("DER")
}

/// The CA's revocation list naming `serial`, revoked an hour ago.
fn crl(ca: &Ca, serial: u32) -> String {
    crl_issued(ca, serial, SystemTime::now() - Duration::from_secs(60))
}

/// The CA's revocation list issued at `issued`, naming `serial`, revoked an hour ago.
fn crl_issued(ca: &Ca, serial: u32, issued: SystemTime) -> String {
    let now = SystemTime::now();
    let alg = AlgorithmIdentifierOwned {
        oid: SHA256_RSA,
        parameters: Some(der::asn1::Null.into()),
    };
    let tbs = TbsCertList {
        version: x509_cert::Version::V2,
        signature: alg.clone(),
        issuer: ca.cert.tbs_certificate.subject.clone(),
        this_update: time(issued),
        next_update: Some(time(now + Duration::from_secs(86_400))),
        revoked_certificates: Some(vec![RevokedCert {
            serial_number: SerialNumber::from(serial),
            revocation_date: time(now - Duration::from_secs(3600)),
            crl_entry_extensions: None,
        }]),
        crl_extensions: None,
    };
    let signature = ca.key.sign(&tbs.to_der().expect("DER")).to_bytes();
    let list = CertificateList {
        tbs_cert_list: tbs,
        signature_algorithm: alg,
        signature: BitString::from_bytes(&signature).expect("bits"),
    };
    let der = list.to_der().expect("DER");
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("ascii"))
        .collect();
    format!(
        "-----BEGIN X509 CRL-----\n{}\n-----END X509 CRL-----\n",
        lines.join("\n")
    )
}

/// A CMS-looking structure (ContentInfo, SignedData's OID) whose SignedData holds one SET of
/// `n` small integers in descending order: the worst case for a DER decoder's SET OF order check.
fn hostile_signature(n: u32) -> Vec<u8> {
    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let len = content.len();
        if len < 0x80 {
            out.push(len as u8);
        } else {
            let bytes = (len as u32).to_be_bytes();
            let skip = bytes.iter().take_while(|b| **b == 0).count();
            out.push(0x80 | (4 - skip) as u8);
            out.extend_from_slice(&bytes[skip..]);
        }
        out.extend_from_slice(content);
        out
    }
    let mut elements = Vec::new();
    for i in (0..n).rev() {
        elements.extend(tlv(0x02, &[0x00, (i >> 8) as u8, i as u8]));
    }
    let signed_data_oid = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
    let content = tlv(0xa0, &tlv(0x30, &tlv(0x31, &elements)));
    tlv(0x30, &[tlv(0x06, &signed_data_oid), content].concat())
}

/// Attaches `content` with `signature` as a multipart request.
async fn attach_signed(
    app: &TestApp,
    token: &str,
    case: &Value,
    content: &[u8],
    signature: &[u8],
) -> Value {
    let q = "mutation($c: ID!, $file: Upload!, $sig: Upload) { attachFile(caseId: $c, file: $file, signature: $sig) { id sha256 signedBy signedAt } }";
    let operations = json!({ "query": q, "variables": { "c": case, "file": null, "sig": null } });
    let (_, body) = post_multipart(
        app,
        token,
        &[
            field("operations", operations.to_string()),
            field("map", r#"{"0":["variables.file"],"1":["variables.sig"]}"#),
            file("0", "application.pdf", content),
            file("1", "application.pdf.p7s", signature),
        ],
    )
    .await;
    body
}

#[actix_web::test]
async fn signatures_are_checked_against_the_trusted_ca_its_revocation_list_and_the_iin() {
    let dir = tempfile_dir();
    let trusted = ca("qyzmet test national CA");
    let stranger_ca = ca("someone else's CA");
    let now = SystemTime::now();
    let valid = || Validity::from_now(Duration::from_secs(86_400 * 30)).expect("validity");
    let (good_key, good_cert) = person(&trusted, 10, IIN, valid());
    let (old_key, old_cert) = person(
        &trusted,
        11,
        IIN,
        Validity {
            not_before: time(now - Duration::from_secs(86_400 * 60)),
            not_after: time(now - Duration::from_secs(86_400)),
        },
    );
    let (revoked_key, revoked_cert) = person(&trusted, 12, IIN, valid());
    let (other_key, other_cert) = person(&trusted, 13, OTHER_IIN, valid());
    let (foreign_key, foreign_cert) = person(&stranger_ca, 14, IIN, valid());
    let ca_file = dir.join("ca.pem");
    std::fs::write(
        &ca_file,
        trusted.cert.to_pem(der::pem::LineEnding::LF).expect("PEM"),
    )
    .expect("written");
    let crl_file = dir.join("ca.crl");
    std::fs::write(&crl_file, crl(&trusted, 12)).expect("written");

    let app = spawn_app_with(|s| {
        s.files.trusted_cas = vec![ca_file.clone()];
        s.files.crl = Some(crl_file.clone());
    })
    .await;
    let mut people = People::new(&app);
    let clerk = people.staff("aktau-school-1", Role::OfficeClerk).await;
    let applicant = people.applicant(IIN).await;
    let c = open(
        &app,
        &clerk,
        "registerApplication",
        application(
            "mangystau-secondary-education-duplicates",
            None,
            IIN,
            json!({}),
        ),
    )
    .await;
    let case = c["data"]["r"]["id"].clone();
    let document = b"%PDF-1.7\n% the application, as the applicant signed it\n".to_vec();

    // Refused, each with its code, and nothing attached.
    let mut tampered = document.clone();
    tampered.extend_from_slice(b"% one more line\n");
    for (what, content, signature, code) in [
        (
            "tampered",
            &tampered,
            sign(&good_key, &good_cert, &document),
            "SIGNATURE_INVALID",
        ),
        (
            "untrusted CA",
            &document,
            sign(&foreign_key, &foreign_cert, &document),
            "SIGNATURE_INVALID",
        ),
        (
            "garbage",
            &document,
            b"not a signature".to_vec(),
            "SIGNATURE_INVALID",
        ),
        (
            "expired",
            &document,
            sign(&old_key, &old_cert, &document),
            "CERTIFICATE_EXPIRED",
        ),
        (
            "revoked",
            &document,
            sign(&revoked_key, &revoked_cert, &document),
            "CERTIFICATE_REVOKED",
        ),
        (
            "another person's",
            &document,
            sign(&other_key, &other_cert, &document),
            "SIGNER_MISMATCH",
        ),
    ] {
        let b = attach_signed(&app, &applicant, &case, content, &signature).await;
        assert_eq!(error_code(&b), code, "{what}: {b}");
    }
    // A signature shaped to make a DER decoder sort 8,500 SET elements (2.7 s of CPU each, on
    // the web worker, before the fix): refused unread, by its shape.
    let hostile = hostile_signature(8_500);
    assert!(hostile.len() < 64 * 1024, "within the size limit");
    let b = attach_signed(&app, &applicant, &case, &document, &hostile).await;
    assert_eq!(error_code(&b), "SIGNATURE_INVALID", "{b}");
    let message = b["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("refused unread"), "{message}");
    // Staff without an IIN registered have nothing to match a signature to.
    let b = attach_signed(
        &app,
        &clerk,
        &case,
        &document,
        &sign(&good_key, &good_cert, &document),
    )
    .await;
    assert_eq!(error_code(&b), "SIGNER_MISMATCH", "{b}");
    // A head with their IIN registered signs a result with their own certificate; the
    // applicant's certificate is not theirs.
    let head = people.staff("aktau-school-1", Role::Head).await;
    let admin = people.user("admin", Role::Admin, None, None).await;
    let set_iin =
        "mutation($u: String!, $i: String) { setUserIin(username: $u, iin: $i) { username iin } }";
    for (iin, who, code) in [
        ("850305400121", "aktau-school-1-head", "INVALID_IIN"),
        (HEAD_IIN, "nobody", "NOT_FOUND"),
    ] {
        let (_, b) = app
            .graphql_as(&admin, set_iin, json!({ "u": who, "i": iin }))
            .await;
        assert_eq!(error_code(&b), code, "{b}");
    }
    let (_, b) = app
        .graphql_as(
            &head,
            set_iin,
            json!({ "u": "aktau-school-1-head", "i": HEAD_IIN }),
        )
        .await;
    assert_eq!(error_code(&b), "FORBIDDEN", "only an administrator: {b}");
    let (_, b) = app
        .graphql_as(
            &admin,
            set_iin,
            json!({ "u": "aktau-school-1-head", "i": HEAD_IIN }),
        )
        .await;
    assert_eq!(
        b["data"]["setUserIin"],
        json!({ "username": "aktau-school-1-head", "iin": HEAD_IIN }),
        "{b}"
    );
    let (head_key, head_cert) = person(&trusted, 15, HEAD_IIN, valid());
    let result = b"%PDF-1.7\n% the result, signed by the head\n".to_vec();
    let b = attach_signed(
        &app,
        &head,
        &case,
        &result,
        &sign(&good_key, &good_cert, &result),
    )
    .await;
    assert_eq!(error_code(&b), "SIGNER_MISMATCH", "{b}");
    let (_, listed) = app
        .graphql_as(
            &clerk,
            "query($c: ID!) { case(id: $c) { files { id } events { kind } } }",
            json!({ "c": case }),
        )
        .await;
    assert_eq!(
        listed["data"]["case"]["files"],
        json!([]),
        "nothing attached: {listed}"
    );
    assert!(
        !listed.to_string().contains("FILE_ATTACHED"),
        "no event: {listed}"
    );

    // The applicant's own valid signature: attached, signed by their IIN, in the chain.
    let b = attach_signed(
        &app,
        &applicant,
        &case,
        &document,
        &sign(&good_key, &good_cert, &document),
    )
    .await;
    let f = &b["data"]["attachFile"];
    assert_eq!(f["signedBy"], IIN, "{b}");
    assert!(f["signedAt"].is_string(), "{b}");
    let (_, events) = app
        .graphql_as(
            &clerk,
            "query($c: ID!) { case(id: $c) { events { kind payload } chainValid } }",
            json!({ "c": case }),
        )
        .await;
    let attached = events["data"]["case"]["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["kind"] == "FILE_ATTACHED")
        .cloned()
        .unwrap_or_default();
    assert_eq!(attached["payload"]["signedBy"], IIN, "{events}");
    assert_eq!(events["data"]["case"]["chainValid"], true);
    let b = attach_signed(
        &app,
        &head,
        &case,
        &result,
        &sign(&head_key, &head_cert, &result),
    )
    .await;
    assert_eq!(b["data"]["attachFile"]["signedBy"], HEAD_IIN, "{b}");

    // Their IIN removed (a certificate withdrawn, a head who left): their signature is refused.
    let (_, b) = app
        .graphql_as(
            &admin,
            set_iin,
            json!({ "u": "aktau-school-1-head", "i": null }),
        )
        .await;
    assert_eq!(b["data"]["setUserIin"]["iin"], Value::Null, "{b}");
    let again = b"%PDF-1.7\n% another result, signed by the head\n".to_vec();
    let b = attach_signed(
        &app,
        &head,
        &case,
        &again,
        &sign(&head_key, &head_cert, &again),
    )
    .await;
    assert_eq!(error_code(&b), "SIGNER_MISMATCH", "{b}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "qyzmet-ca-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&d).expect("dir");
    d
}

/// The revocation list is re-read while the server runs: a newer list revokes at once, an older
/// one or garbage leaves the list in force.
#[actix_web::test]
async fn a_newer_revocation_list_is_picked_up_and_an_older_one_refused() {
    let dir = tempfile_dir();
    let trusted = ca("qyzmet test national CA");
    let valid = Validity::from_now(Duration::from_secs(86_400 * 30)).expect("validity");
    let (key, cert) = person(&trusted, 20, IIN, valid);
    let ca_file = dir.join("ca.pem");
    std::fs::write(
        &ca_file,
        trusted.cert.to_pem(der::pem::LineEnding::LF).expect("PEM"),
    )
    .expect("written");
    let crl_file = dir.join("ca.crl");
    let now = SystemTime::now();
    // In force: a list from two hours ago naming another certificate.
    std::fs::write(
        &crl_file,
        crl_issued(&trusted, 99, now - Duration::from_secs(7200)),
    )
    .expect("written");
    let trust = api::signatures::Trust::load(&[ca_file], Some(&crl_file)).expect("trust");
    let document = b"%PDF-1.7\n% an application\n".to_vec();
    let signature = sign(&key, &cert, &document);
    let digest = Sha256::digest(&document).to_vec();
    let revoked = |t: &api::signatures::Trust| {
        t.facts(&signature, &digest)
            .expect("facts")
            .revoked_at
            .is_some()
    };
    assert!(!revoked(&trust));

    // The issuer publishes a newer list revoking it; the running loop picks it up.
    api::signatures::watch_crl(trust.clone(), crl_file.clone(), Duration::from_millis(50));
    std::fs::write(
        &crl_file,
        crl_issued(&trusted, 20, now - Duration::from_secs(60)),
    )
    .expect("written");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !revoked(&trust) {
        assert!(
            std::time::Instant::now() < deadline,
            "the newer list was not picked up"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    let (issued, next) = trust.crl_dates().expect("a list in force");
    assert!(issued.timestamp() > 0 && next.is_some());

    // An older list (a restored backup) would un-revoke it: refused, the newer list stays.
    std::fs::write(
        &crl_file,
        crl_issued(&trusted, 99, now - Duration::from_secs(3600)),
    )
    .expect("written");
    let err = trust.reload_crl(&crl_file).expect_err("older");
    assert!(err.contains("older than the list in force"), "{err}");
    assert!(revoked(&trust));
    // Garbage, or a list signed by another authority: refused, the list in force stays.
    std::fs::write(
        &crl_file,
        "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n",
    )
    .expect("written");
    assert!(trust.reload_crl(&crl_file).is_err());
    let stranger = ca("someone else's CA");
    std::fs::write(&crl_file, crl_issued(&stranger, 99, SystemTime::now())).expect("written");
    let err = trust.reload_crl(&crl_file).expect_err("foreign");
    assert!(err.contains("not signed by a trusted authority"), "{err}");
    assert!(revoked(&trust));
    // The same list again changes nothing.
    std::fs::write(
        &crl_file,
        crl_issued(&trusted, 20, now - Duration::from_secs(60)),
    )
    .expect("written");
    assert_eq!(
        trust.reload_crl(&crl_file),
        Ok(api::signatures::CrlReload::Unchanged)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
