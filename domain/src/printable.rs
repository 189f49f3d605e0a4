//! What a printed receipt (қолхат) says, in Kazakh or Russian: its title, its lines, the number
//! its barcode carries and the verification link its QR code carries. Laid out as PDF at the
//! edge (`api::pdf`); the wording is decided here, once.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::documents::{ReasonedRefusal, Receipt, RefusalReceipt, ServiceResult};
use crate::language::Language;
use crate::view::document_hash;

/// A document ready to be laid out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Printable {
    /// The title.
    pub title: String,
    /// Label and value, top to bottom; a value may hold several lines.
    pub lines: Vec<(String, Vec<String>)>,
    /// What the barcode encodes: the registration number (scanned at the State Corporation).
    pub barcode: String,
    /// What the QR code encodes: the public verification page.
    pub verify_url: String,
    /// The SHA-256 of the document's content, printed so a copy can be checked.
    pub sha256: String,
    /// The footer: where to check the document.
    pub footer: String,
}

/// The names a printed document shows where its record holds codes — the service in Russian,
/// result documents, organisations, employees — resolved at the edge (the regulation, the
/// directory, the accounts) in the document's language. A printed form names the employee who
/// accepted or signed by their full name, as the paper form does; the account's username, an
/// internal identifier, is never printed.
pub struct Names<'a> {
    /// The service's Russian name, when there is one.
    pub service_ru: Option<&'a str>,
    /// A result document's name, by its code.
    pub result: &'a dyn Fn(&str) -> String,
    /// An organisation's name, by its code.
    pub organisation: &'a dyn Fn(&str) -> String,
    /// An employee's full name, by their username.
    pub person: &'a dyn Fn(&str) -> String,
}

impl Names<'static> {
    /// Every code printed as itself (for [`available`], which prints nothing).
    pub fn codes() -> Names<'static> {
        Names {
            service_ru: None,
            result: &|c| c.to_owned(),
            organisation: &|c| c.to_owned(),
            person: &|c| c.to_owned(),
        }
    }
}

/// "Organisation, employee", the way an "accepted by" or "signed by" line prints.
fn by(names: &Names<'_>, organisation: Option<&str>, person: &str) -> String {
    let person = (names.person)(person);
    match organisation.filter(|o| !o.is_empty()) {
        Some(o) => format!("{}, {person}", (names.organisation)(o)),
        None => person,
    }
}

fn local(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%d.%m.%Y %H:%M").to_string()
}

/// The public verification page of a number under `public_url` (no trailing slash needed).
pub fn verify_url(public_url: &str, number: &str) -> String {
    format!("{}/verify/{number}", public_url.trim_end_matches('/'))
}

/// The receipt as printed in `lang` (Kazakh, or Russian; English prints Russian's layout with
/// English labels), times in the provider's zone `tz`.
pub fn receipt(
    r: &Receipt,
    names: &Names<'_>,
    lang: Language,
    tz: Tz,
    public_url: &str,
) -> Printable {
    let l = |kk: &str, ru: &str, en: &str| lang.pick(kk, ru, en).to_owned();
    let service = match lang {
        Language::Kk => r.service.clone(),
        _ => names.service_ru.unwrap_or(&r.service).to_owned(),
    };
    let mut lines = vec![
        number_line(lang, &r.number),
        (
            l(
                "Қабылданған күні мен уақыты",
                "Дата и время приёма",
                "Accepted at",
            ),
            vec![local(r.accepted_at, tz)],
        ),
        (
            l(
                "Мемлекеттік қызмет",
                "Государственная услуга",
                "State service",
            ),
            vec![service],
        ),
        (
            l(
                "Көрсетілетін қызметті алушы",
                "Услугополучатель",
                "Applicant",
            ),
            vec![r.applicant.clone()],
        ),
        (l("ЖСН", "ИИН", "IIN"), vec![r.iin.clone()]),
        (
            l(
                "Қабылданған құжаттар",
                "Принятые документы",
                "Documents accepted",
            ),
            numbered(&r.documents),
        ),
    ];
    if let Some(due) = r.legal_result_date {
        lines.push((
            l(
                "Нәтижені беру мерзімі",
                "Срок выдачи результата",
                "Result due",
            ),
            vec![local(due, tz)],
        ));
    }
    lines.push((
        l("Қабылдаған", "Принял", "Accepted by"),
        vec![by(names, Some(&r.accepted_organisation), &r.accepted_by)],
    ));
    finish(
        l(
            "Құжаттарды қабылдау туралы қолхат",
            "Расписка о приёме документов",
            "Receipt of documents",
        ),
        lines,
        &r.number,
        document_hash(r),
        lang,
        public_url,
    )
}

/// The registration number's line.
fn number_line(lang: Language, number: &str) -> (String, Vec<String>) {
    (
        lang.pick(
            "Тіркеу нөмірі",
            "Регистрационный номер",
            "Registration number",
        )
        .to_owned(),
        vec![number.to_owned()],
    )
}

/// The signature's line: who signed, when (local time).
fn signed_line(
    lang: Language,
    names: &Names<'_>,
    s: &crate::documents::Signature,
    tz: Tz,
) -> (String, Vec<String>) {
    (
        lang.pick("Қол қойған", "Подписал", "Signed by").to_owned(),
        vec![format!(
            "{} {}",
            by(names, None, &s.signed_by),
            local(s.signed_at, tz)
        )],
    )
}

fn numbered(items: &[String]) -> Vec<String> {
    items
        .iter()
        .enumerate()
        .map(|(i, d)| format!("{}. {d}", i + 1))
        .collect()
}

/// The parts every printed document shares: the number's barcode, the verification link, the
/// hash and the footer.
fn finish(
    title: String,
    lines: Vec<(String, Vec<String>)>,
    number: &str,
    sha256: String,
    lang: Language,
    public_url: &str,
) -> Printable {
    let url = verify_url(public_url, number);
    Printable {
        title,
        lines,
        barcode: number.to_owned(),
        footer: lang
            .pick(
                "Құжаттың түпнұсқалығын тексеру",
                "Проверка подлинности документа",
                "Check this document",
            )
            .to_owned()
            + ": "
            + &url,
        verify_url: url,
        sha256,
    }
}

/// The refusal receipt at intake (the documents missing and expired, named), as printed.
pub fn refusal_receipt(
    number: &str,
    r: &RefusalReceipt,
    names: &Names<'_>,
    lang: Language,
    tz: Tz,
    public_url: &str,
) -> Printable {
    let l = |kk: &str, ru: &str, en: &str| lang.pick(kk, ru, en).to_owned();
    let mut lines = vec![
        number_line(lang, number),
        (
            l("Берілген күні", "Дата выдачи", "Issued at"),
            vec![local(r.issued_at, tz)],
        ),
    ];
    if !r.missing.is_empty() {
        lines.push((
            l(
                "Ұсынылмаған құжаттар",
                "Непредставленные документы",
                "Documents missing",
            ),
            numbered(&r.missing),
        ));
    }
    if !r.expired.is_empty() {
        lines.push((
            l(
                "Қолданылу мерзімі өткен құжаттар",
                "Документы с истёкшим сроком действия",
                "Documents expired",
            ),
            numbered(&r.expired),
        ));
    }
    lines.push((
        l("Берген", "Выдал", "Issued by"),
        vec![by(names, Some(&r.issued_organisation), &r.issued_by)],
    ));
    finish(
        l(
            "Құжаттарды қабылдаудан бас тарту туралы қолхат",
            "Расписка об отказе в приёме документов",
            "Refusal to accept documents",
        ),
        lines,
        number,
        document_hash(r),
        lang,
        public_url,
    )
}

/// The reasoned refusal (дәлелді жауап), as printed once signed.
pub fn reasoned_refusal(
    number: &str,
    r: &ReasonedRefusal,
    names: &Names<'_>,
    lang: Language,
    tz: Tz,
    public_url: &str,
) -> Printable {
    let l = |kk: &str, ru: &str, en: &str| lang.pick(kk, ru, en).to_owned();
    let mut lines = vec![
        number_line(lang, number),
        (
            l("Бас тарту негіздері", "Основания отказа", "Grounds"),
            vec![r.grounds.clone()],
        ),
    ];
    if let Some(s) = &r.signature {
        lines.push(signed_line(lang, names, s, tz));
    }
    finish(
        l(
            "Дәлелді бас тарту",
            "Мотивированный отказ",
            "Reasoned refusal",
        ),
        lines,
        number,
        document_hash(r),
        lang,
        public_url,
    )
}

/// The result of the service, as printed, its result documents named in `lang`.
pub fn result(
    number: &str,
    r: &ServiceResult,
    names: &Names<'_>,
    lang: Language,
    tz: Tz,
    public_url: &str,
) -> Printable {
    let l = |kk: &str, ru: &str, en: &str| lang.pick(kk, ru, en).to_owned();
    let documents: Vec<String> = r.documents.iter().map(|d| (names.result)(d)).collect();
    let mut lines = vec![
        number_line(lang, number),
        (l("Нәтиже", "Результат", "Result"), numbered(&documents)),
    ];
    if let Some(s) = &r.signature {
        lines.push(signed_line(lang, names, s, tz));
    }
    if let Some(at) = r.issued_at {
        lines.push((
            l("Берілген күні", "Дата выдачи", "Issued at"),
            vec![local(at, tz)],
        ));
    }
    finish(
        l(
            "Мемлекеттік қызмет көрсету нәтижесі",
            "Результат оказания государственной услуги",
            "Result of the state service",
        ),
        lines,
        number,
        document_hash(r),
        lang,
        public_url,
    )
}

/// The printed form of a case's document of `kind`, as `audience` may have it: `None` when the
/// case has no such document, or not yet for that audience (a reasoned refusal before it is
/// signed, a result before it is signed — or, for the applicant, before it is issued).
pub fn of_case(
    c: &crate::engine::CaseRecord,
    kind: crate::view::DocumentKind,
    audience: crate::view::Audience,
    names: &Names<'_>,
    lang: Language,
    tz: Tz,
    public_url: &str,
) -> Option<Printable> {
    use crate::documents::Refusal;
    use crate::view::DocumentKind as K;
    let refusal = c
        .refusal
        .as_ref()
        .and_then(|r| crate::view::refusal(audience, r));
    match kind {
        K::Receipt => c
            .receipt
            .as_ref()
            .map(|r| receipt(r, names, lang, tz, public_url)),
        K::RefusalReceipt => match refusal {
            Some(Refusal::IntakeRefusal(r)) => {
                Some(refusal_receipt(&c.number, &r, names, lang, tz, public_url))
            }
            _ => None,
        },
        K::ReasonedRefusal => match refusal {
            Some(Refusal::ReasonedRefusal(r)) if r.signature.is_some() => {
                Some(reasoned_refusal(&c.number, &r, names, lang, tz, public_url))
            }
            _ => None,
        },
        K::ServiceResult => c
            .result
            .as_ref()
            .and_then(|r| crate::view::result(audience, r))
            .filter(|r| r.signature.is_some() || r.issued_at.is_some())
            .map(|r| result(&c.number, &r, names, lang, tz, public_url)),
    }
}

/// The usernames and organisation codes the case's printed documents name: what the edge
/// resolves into [`Names`] before printing.
pub fn named(c: &crate::engine::CaseRecord) -> (BTreeSet<String>, BTreeSet<String>) {
    use crate::documents::Refusal;
    let mut people = BTreeSet::new();
    let mut organisations = BTreeSet::new();
    if let Some(r) = &c.receipt {
        people.insert(r.accepted_by.clone());
        organisations.insert(r.accepted_organisation.clone());
    }
    match &c.refusal {
        Some(Refusal::IntakeRefusal(r)) => {
            people.insert(r.issued_by.clone());
            organisations.insert(r.issued_organisation.clone());
        }
        Some(Refusal::ReasonedRefusal(r)) => {
            if let Some(s) = &r.signature {
                people.insert(s.signed_by.clone());
            }
        }
        None => {}
    }
    if let Some(s) = c.result.as_ref().and_then(|r| r.signature.as_ref()) {
        people.insert(s.signed_by.clone());
    }
    (people, organisations)
}

/// Whether `audience` has a printable document of `kind` on the case now (what [`of_case`]
/// would print).
pub fn available(
    c: &crate::engine::CaseRecord,
    kind: crate::view::DocumentKind,
    audience: crate::view::Audience,
) -> bool {
    of_case(
        c,
        kind,
        audience,
        &Names::codes(),
        Language::Kk,
        chrono_tz::UTC,
        "",
    )
    .is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::regulation::Channel;

    /// Names as the edge resolves them: the organisation and the employees by name.
    fn people() -> Names<'static> {
        Names {
            service_ru: None,
            result: &|c| c.to_owned(),
            organisation: &|c| match c {
                "aktau-school-1" => "Школа № 1".to_owned(),
                other => other.to_owned(),
            },
            person: &|u| match u {
                "clerk" => "Ахметова Айжан".to_owned(),
                "head" => "Серіков Ерлан".to_owned(),
                other => other.to_owned(),
            },
        }
    }

    fn sample() -> Receipt {
        Receipt {
            number: "KZ47-20250602-0000001".into(),
            regulation: "mangystau-secondary-education-duplicates".into(),
            regulation_version: 1,
            service: "Негізгі орта, жалпы орта білім туралы құжаттардың телнұсқаларын беру".into(),
            channel: Channel::ProviderOffice,
            applicant: "Айгерим Нұрланқызы Серікова".into(),
            iin: "850305400120".into(),
            documents: vec!["application".into(), "identity document".into()],
            legal_result_date: DateTime::from_timestamp(1_749_562_200, 0),
            accepted_at: DateTime::from_timestamp(1_748_840_400, 0).expect("instant"),
            accepted_organisation: "aktau-school-1".into(),
            accepted_by: "clerk".into(),
        }
    }

    #[test]
    fn refusals_and_results_print_what_they_decide_with_their_hash() {
        let at = DateTime::from_timestamp(1_748_840_400, 0).expect("instant");
        let refusal = RefusalReceipt {
            missing: vec!["identity document".into()],
            expired: vec![],
            issued_at: at,
            issued_organisation: "aktau-school-1".into(),
            issued_by: "clerk".into(),
        };
        let p = refusal_receipt(
            "KZ47-1",
            &refusal,
            &people(),
            Language::Ru,
            chrono_tz::Asia::Aqtau,
            "http://h",
        );
        assert_eq!(p.title, "Расписка об отказе в приёме документов");
        assert!(p
            .lines
            .iter()
            .any(|(l, v)| l == "Непредставленные документы"
                && v == &vec!["1. identity document".to_owned()]));
        assert!(
            !p.lines.iter().any(|(l, _)| l.contains("истёкшим")),
            "no empty section"
        );
        assert_eq!(p.sha256, document_hash(&refusal));
        assert!(
            p.lines
                .iter()
                .any(|(l, v)| l == "Выдал" && v == &vec!["Школа № 1, Ахметова Айжан".to_owned()]),
            "{:?}",
            p.lines
        );
        let result_doc = ServiceResult {
            documents: vec!["duplicate".into()],
            signature: Some(crate::documents::Signature {
                signed_by: "head".into(),
                signed_at: at,
            }),
            issued_at: Some(at),
            issued_by: Some("clerk".into()),
        };
        let p = result(
            "KZ47-1",
            &result_doc,
            &Names {
                result: &|code| {
                    assert_eq!(code, "duplicate");
                    "Аттестат телнұсқасы".into()
                },
                ..people()
            },
            Language::Kk,
            chrono_tz::Asia::Aqtau,
            "http://h",
        );
        assert_eq!(p.title, "Мемлекеттік қызмет көрсету нәтижесі");
        assert!(p
            .lines
            .iter()
            .any(|(_, v)| v == &vec!["1. Аттестат телнұсқасы".to_owned()]));
        assert_eq!(p.barcode, "KZ47-1");
        assert_eq!(p.verify_url, "http://h/verify/KZ47-1");
        let signed = p
            .lines
            .iter()
            .find(|(l, _)| l == "Қол қойған")
            .map(|(_, v)| v[0].clone())
            .unwrap_or_default();
        assert!(signed.starts_with("Серіков Ерлан "), "{signed}");
        let printed = format!("{:?}", p.lines);
        assert!(
            !printed.contains("head") && !printed.contains("clerk"),
            "no username: {printed}"
        );
    }

    #[test]
    fn a_receipt_prints_in_kazakh_and_russian_with_local_times_and_its_hash() {
        let r = sample();
        let names = Names {
            service_ru: Some("Выдача дубликатов"),
            ..people()
        };
        let kk = receipt(
            &r,
            &names,
            Language::Kk,
            chrono_tz::Asia::Aqtau,
            "https://q.example/",
        );
        assert_eq!(kk.title, "Құжаттарды қабылдау туралы қолхат");
        assert_eq!(kk.barcode, r.number);
        assert_eq!(
            kk.verify_url,
            "https://q.example/verify/KZ47-20250602-0000001"
        );
        assert_eq!(kk.sha256, document_hash(&r));
        // 2025-06-02 05:00 UTC is 10:00 in Aktau (UTC+5).
        assert!(kk
            .lines
            .iter()
            .any(|(_, v)| v == &vec!["02.06.2025 10:00".to_owned()]));
        assert!(kk.lines.iter().any(|(_, v)| v[0] == r.service));
        assert!(kk
            .lines
            .iter()
            .any(|(l, v)| l == "Қабылдаған" && v == &vec!["Школа № 1, Ахметова Айжан".to_owned()]));
        let ru = receipt(
            &r,
            &names,
            Language::Ru,
            chrono_tz::Asia::Aqtau,
            "https://q.example",
        );
        assert_eq!(ru.title, "Расписка о приёме документов");
        assert!(ru
            .lines
            .iter()
            .any(|(l, v)| l == "Государственная услуга" && v[0] == "Выдача дубликатов"));
        assert_eq!(
            ru.lines
                .iter()
                .find(|(l, _)| l == "Принятые документы")
                .map(|(_, v)| v.len()),
            Some(2)
        );
    }
}
