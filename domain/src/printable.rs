//! What a printed receipt (қолхат) says, in Kazakh or Russian: its title, its lines, the number
//! its barcode carries and the verification link its QR code carries. Laid out as PDF at the
//! edge (`api::pdf`); the wording is decided here, once.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::documents::Receipt;
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

fn local(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%d.%m.%Y %H:%M").to_string()
}

/// The public verification page of a number under `public_url` (no trailing slash needed).
pub fn verify_url(public_url: &str, number: &str) -> String {
    format!("{}/verify/{number}", public_url.trim_end_matches('/'))
}

/// The receipt as printed in `lang` (Kazakh, or Russian; English prints Russian's layout with
/// English labels), times in the provider's zone `tz`. `service_ru` is the service's Russian
/// name when there is one.
pub fn receipt(
    r: &Receipt,
    service_ru: Option<&str>,
    lang: Language,
    tz: Tz,
    public_url: &str,
) -> Printable {
    let l = |kk: &str, ru: &str, en: &str| lang.pick(kk, ru, en).to_owned();
    let service = match lang {
        Language::Kk => r.service.clone(),
        _ => service_ru.unwrap_or(&r.service).to_owned(),
    };
    let mut lines = vec![
        (
            l(
                "Тіркеу нөмірі",
                "Регистрационный номер",
                "Registration number",
            ),
            vec![r.number.clone()],
        ),
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
            r.documents
                .iter()
                .enumerate()
                .map(|(i, d)| format!("{}. {d}", i + 1))
                .collect(),
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
        vec![format!("{} {}", r.accepted_organisation, r.accepted_by)
            .trim()
            .to_owned()],
    ));
    let url = verify_url(public_url, &r.number);
    Printable {
        title: l(
            "Құжаттарды қабылдау туралы қолхат",
            "Расписка о приёме документов",
            "Receipt of documents",
        ),
        lines,
        barcode: r.number.clone(),
        footer: l(
            "Құжаттың түпнұсқалығын тексеру",
            "Проверка подлинности документа",
            "Check this document",
        ) + ": "
            + &url,
        verify_url: url,
        sha256: document_hash(r),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::regulation::Channel;

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
    fn a_receipt_prints_in_kazakh_and_russian_with_local_times_and_its_hash() {
        let r = sample();
        let kk = receipt(
            &r,
            Some("Выдача дубликатов"),
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
        let ru = receipt(
            &r,
            Some("Выдача дубликатов"),
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
