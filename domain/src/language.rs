//! The three languages a client shows — Kazakh (the state language, the default), Russian and
//! English — and every label qyzmet gives in them: stages, statuses, public progress, mailboxes,
//! channels, roles, short messages for error codes, and the Russian names of the regulations
//! and their results (`data/i18n/ru.toml`, our translation unless marked official).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::case::{CaseStatus, Stage};
use crate::identity::Role;
use crate::regulation::{Channel, Mailbox};
use crate::view::PublicProgress;

/// A language of the interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
pub enum Language {
    /// Kazakh (қазақ тілі), the state language: the default.
    #[default]
    Kk,
    /// Russian (русский язык).
    Ru,
    /// English.
    En,
}

impl Language {
    /// The language an `Accept-Language` header prefers among the three (by its q-values, the
    /// first listed on a tie); Kazakh when it names none of them or cannot be read.
    pub fn from_accept_language(header: &str) -> Language {
        let mut best: Option<(Language, f32)> = None;
        for part in header.split(',').take(32) {
            let mut pieces = part.trim().split(';');
            let tag = pieces
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            let q = pieces
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let primary = tag.split('-').next().unwrap_or_default();
            let lang = match primary {
                "kk" => Language::Kk,
                "ru" => Language::Ru,
                "en" => Language::En,
                _ => continue,
            };
            if q > 0.0 && best.is_none_or(|(_, b)| q > b) {
                best = Some((lang, q));
            }
        }
        best.map(|(l, _)| l).unwrap_or_default()
    }

    /// The BCP 47 tag: `kk`, `ru`, `en`.
    pub fn tag(self) -> &'static str {
        match self {
            Language::Kk => "kk",
            Language::Ru => "ru",
            Language::En => "en",
        }
    }

    /// One of three wordings.
    pub fn pick<'a>(self, kk: &'a str, ru: &'a str, en: &'a str) -> &'a str {
        match self {
            Language::Kk => kk,
            Language::Ru => ru,
            Language::En => en,
        }
    }
}

/// A stage's label.
pub fn stage(s: Stage, l: Language) -> &'static str {
    match s {
        Stage::Intake => l.pick("Құжаттарды қабылдау", "Приём документов", "Intake"),
        Stage::Resolution => l.pick(
            "Басшының бұрыштамасы",
            "Резолюция руководителя",
            "Head's resolution",
        ),
        Stage::Prepare => l.pick(
            "Нәтижені дайындау",
            "Подготовка результата",
            "Preparing the result",
        ),
        Stage::Sign => l.pick("Басшының қол қоюы", "Подписание руководителем", "Signing"),
        Stage::Issue => l.pick("Нәтижені беру", "Выдача результата", "Issuing the result"),
        Stage::CorporationTransfer => l.pick(
            "Құжаттарды көрсетілетін қызметті берушіге жеткізу",
            "Доставка документов услугодателю",
            "Transfer to the provider",
        ),
        Stage::ResultBack => l.pick(
            "Нәтижені Мемлекеттік корпорацияға жеткізу",
            "Доставка результата в Госкорпорацию",
            "Result back to the State Corporation",
        ),
        Stage::CorporationIssue => l.pick(
            "Мемлекеттік корпорацияда беру",
            "Выдача в Госкорпорации",
            "Issuing at the State Corporation",
        ),
        Stage::ProviderStorage => l.pick(
            "Көрсетілетін қызметті берушіде сақтау",
            "Хранение у услугодателя",
            "Stored at the provider",
        ),
        Stage::Redelivery => l.pick("Қайта жеткізу", "Повторная доставка", "Redelivery"),
        Stage::Closed => l.pick("Аяқталды", "Завершено", "Closed"),
    }
}

/// A status's label.
pub fn status(s: CaseStatus, l: Language) -> &'static str {
    match s {
        CaseStatus::Submitted => l.pick("Берілді", "Подано", "Submitted"),
        CaseStatus::InProgress => l.pick("Орындалуда", "В работе", "In progress"),
        CaseStatus::ResultReady => l.pick("Нәтиже дайын", "Результат готов", "Result ready"),
        CaseStatus::Completed => l.pick("Көрсетілді", "Оказано", "Completed"),
        CaseStatus::RefusedAtIntake => l.pick(
            "Құжаттарды қабылдаудан бас тартылды",
            "Отказано в приёме документов",
            "Refused at intake",
        ),
        CaseStatus::Refused => l.pick(
            "Дәлелді бас тарту",
            "Мотивированный отказ",
            "Reasoned refusal",
        ),
        CaseStatus::ReturnedUnclaimed => l.pick(
            "Алынбай қайтарылды",
            "Возвращено как невостребованное",
            "Returned unclaimed",
        ),
        CaseStatus::Redelivery => l.pick("Қайта жеткізілуде", "Повторная доставка", "Redelivery"),
    }
}

/// A public progress's label (what an applicant is told).
pub fn progress(p: PublicProgress, l: Language) -> &'static str {
    match p {
        PublicProgress::AwaitingRegistration => l.pick(
            "Тіркеуді күтуде",
            "Ожидает регистрации",
            "Awaiting registration",
        ),
        PublicProgress::UnderConsideration => {
            l.pick("Қаралуда", "На рассмотрении", "Under consideration")
        }
        PublicProgress::ReadyForCollection => {
            l.pick("Алуға дайын", "Готово к выдаче", "Ready for collection")
        }
        PublicProgress::Issued => l.pick("Берілді", "Выдано", "Issued"),
        PublicProgress::Refused => l.pick("Бас тартылды", "Отказано", "Refused"),
        PublicProgress::RefusedAtIntake => l.pick(
            "Қабылдаудан бас тартылды",
            "Отказано в приёме",
            "Refused at intake",
        ),
        PublicProgress::StoredAtProvider => l.pick(
            "Көрсетілетін қызметті берушіде сақтаулы",
            "Хранится у услугодателя",
            "Stored at the provider",
        ),
        PublicProgress::ReturningToCounter => l.pick(
            "Мемлекеттік корпорацияға қайтарылуда",
            "Возвращается в Госкорпорацию",
            "Returning to the counter",
        ),
    }
}

/// A mailbox's label.
pub fn mailbox(m: Mailbox, l: Language) -> &'static str {
    match m {
        Mailbox::Office => l.pick("Кеңсе", "Канцелярия", "Office"),
        Mailbox::Head => l.pick("Басшы", "Руководитель", "Head"),
        Mailbox::Executor => l.pick("Жауапты орындаушы", "Ответственный исполнитель", "Executor"),
        Mailbox::Corporation => l.pick(
            "Мемлекеттік корпорация",
            "Госкорпорация",
            "State Corporation",
        ),
    }
}

/// A channel's label.
pub fn channel(c: Channel, l: Language) -> &'static str {
    match c {
        Channel::ProviderOffice => l.pick(
            "Көрсетілетін қызметті берушінің кеңсесі",
            "Канцелярия услугодателя",
            "The provider's office",
        ),
        Channel::StateCorporation => l.pick(
            "«Азаматтарға арналған үкімет» мемлекеттік корпорациясы",
            "Госкорпорация «Правительство для граждан»",
            "State Corporation \"Government for Citizens\"",
        ),
        Channel::Portal => l.pick(
            "«Электрондық үкімет» веб-порталы",
            "Веб-портал «электронного правительства»",
            "The egov.kz portal",
        ),
    }
}

/// A role's label.
pub fn role(r: Role, l: Language) -> &'static str {
    match r {
        Role::OfficeClerk => l.pick("Кеңсе қызметкері", "Сотрудник канцелярии", "Office clerk"),
        Role::Head => l.pick("Басшы", "Руководитель", "Head"),
        Role::Executor => l.pick("Жауапты орындаушы", "Ответственный исполнитель", "Executor"),
        Role::CorporationOperator => l.pick(
            "Мемлекеттік корпорация қызметкері",
            "Работник Госкорпорации",
            "State Corporation operator",
        ),
        Role::Analyst => l.pick("Талдаушы", "Аналитик", "Analyst"),
        Role::Admin => l.pick("Әкімші", "Администратор", "Administrator"),
        Role::Applicant => l.pick(
            "Көрсетілетін қызметті алушы",
            "Услугополучатель",
            "Applicant",
        ),
    }
}

/// A name in the chosen language; Russian falls back to Kazakh, the state language, where no
/// Russian name is recorded.
pub fn name(lang: Language, kk: &str, ru: Option<&str>, en: &str) -> String {
    match lang {
        Language::Kk => kk,
        Language::Ru => ru.unwrap_or(kk),
        Language::En => en,
    }
    .to_owned()
}

/// The error codes that have a message for people (see [`error_message`]).
pub const ERROR_CODES: [&str; 26] = [
    "BAD_USER_INPUT",
    "BAD_REQUEST",
    "NOT_FOUND",
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "CONFLICT",
    "INVALID_TRANSITION",
    "CHANNEL_NOT_ALLOWED",
    "OUTSIDE_ACCEPTANCE_WINDOW",
    "REFUSAL_NOT_PROVIDED",
    "IIN_MISMATCH",
    "INVALID_IIN",
    "CALENDAR_NOT_AVAILABLE",
    "TOO_MANY_ATTEMPTS",
    "RATE_LIMITED",
    "SERVICE_UNAVAILABLE",
    "QUERY_TIMEOUT",
    "QUERY_TOO_COMPLEX",
    "QUERY_TOO_DEEP",
    "PAYLOAD_TOO_LARGE",
    "RESYNC_REQUIRED",
    "SIGNATURE_INVALID",
    "CERTIFICATE_EXPIRED",
    "CERTIFICATE_REVOKED",
    "SIGNER_MISMATCH",
    "INTERNAL",
];

/// A short message to show a person for an error code (the error's own `message` is a
/// developer's explanation, in English). `None` for codes a client handles itself.
pub fn error_message(code: &str, l: Language) -> Option<&'static str> {
    Some(match code {
        "BAD_USER_INPUT" => l.pick(
            "Енгізілген деректер қате.",
            "Неверные данные.",
            "The input is not valid.",
        ),
        "BAD_REQUEST" => l.pick(
            "Сұрау дұрыс емес.",
            "Некорректный запрос.",
            "The request is malformed.",
        ),
        "NOT_FOUND" => l.pick("Табылмады.", "Не найдено.", "Not found."),
        "UNAUTHENTICATED" => l.pick("Жүйеге кіріңіз.", "Войдите в систему.", "Please sign in."),
        "FORBIDDEN" => l.pick(
            "Бұл әрекетке рұқсат жоқ.",
            "Это действие не разрешено.",
            "This action is not allowed.",
        ),
        "CONFLICT" => l.pick(
            "Іс сізден бұрын өзгертілді: жаңартып, қайталаңыз.",
            "Дело уже изменено: обновите и повторите.",
            "Someone changed this first: reload and try again.",
        ),
        "INVALID_TRANSITION" => l.pick(
            "Бұл әрекет қазір мүмкін емес.",
            "Это действие сейчас невозможно.",
            "This action is not possible now.",
        ),
        "CHANNEL_NOT_ALLOWED" => l.pick(
            "Бұл қызмет осы арна арқылы көрсетілмейді.",
            "Эта услуга не оказывается через этот канал.",
            "This service is not offered through this channel.",
        ),
        "OUTSIDE_ACCEPTANCE_WINDOW" => l.pick(
            "Өтініштер қазір қабылданбайды.",
            "Заявления сейчас не принимаются.",
            "Applications are not accepted at this time.",
        ),
        "REFUSAL_NOT_PROVIDED" => l.pick(
            "Регламент мұнда мұндай бас тартуды көздемейді.",
            "Регламент не предусматривает здесь такого отказа.",
            "The regulation provides no such refusal here.",
        ),
        "IIN_MISMATCH" => l.pick(
            "ЖСН сәйкес келмейді.",
            "ИИН не совпадает.",
            "The IIN does not match.",
        ),
        "INVALID_IIN" => l.pick("ЖСН қате.", "Неверный ИИН.", "The IIN is not valid."),
        "CALENDAR_NOT_AVAILABLE" => l.pick(
            "Бұл кезеңге жұмыс күнтізбесі жоқ.",
            "Производственный календарь на этот период отсутствует.",
            "The working calendar does not cover this period.",
        ),
        "TOO_MANY_ATTEMPTS" => l.pick(
            "Әрекет тым көп: кейінірек қайталаңыз.",
            "Слишком много попыток: повторите позже.",
            "Too many attempts: try again later.",
        ),
        "RATE_LIMITED" => l.pick(
            "Сұрау тым жиі: сәлден соң қайталаңыз.",
            "Слишком частые запросы: повторите чуть позже.",
            "Too many requests: try again shortly.",
        ),
        "SERVICE_UNAVAILABLE" | "QUERY_TIMEOUT" => l.pick(
            "Қызмет уақытша қолжетімсіз: сәлден соң қайталаңыз.",
            "Сервис временно недоступен: повторите чуть позже.",
            "The service is briefly unavailable: try again shortly.",
        ),
        "QUERY_TOO_COMPLEX" | "QUERY_TOO_DEEP" | "PAYLOAD_TOO_LARGE" => l.pick(
            "Сұрау тым үлкен.",
            "Запрос слишком велик.",
            "The request is too large.",
        ),
        "RESYNC_REQUIRED" => l.pick(
            "Тізімді жаңартыңыз.",
            "Обновите список.",
            "Reload the list.",
        ),
        "SIGNATURE_INVALID" => l.pick(
            "ЭЦҚ жарамсыз: құжатқа қайта қол қойыңыз.",
            "ЭЦП недействительна: подпишите документ заново.",
            "The signature is not valid: sign the document again.",
        ),
        "CERTIFICATE_EXPIRED" => l.pick(
            "ЭЦҚ тіркеу куәлігінің мерзімі өткен.",
            "Срок действия регистрационного свидетельства ЭЦП истёк.",
            "The signing certificate has expired.",
        ),
        "CERTIFICATE_REVOKED" => l.pick(
            "ЭЦҚ тіркеу куәлігі кері қайтарылған.",
            "Регистрационное свидетельство ЭЦП отозвано.",
            "The signing certificate has been revoked.",
        ),
        "SIGNER_MISMATCH" => l.pick(
            "Құжатқа басқа адамның ЭЦҚ-сымен қол қойылған.",
            "Документ подписан ЭЦП другого лица.",
            "The document is signed with someone else's certificate.",
        ),
        "INTERNAL" => l.pick(
            "Ішкі қате: кейінірек қайталаңыз.",
            "Внутренняя ошибка: повторите позже.",
            "Internal error: try again later.",
        ),
        _ => return None,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RussianFile {
    regulations: BTreeMap<String, RussianRegulation>,
}

/// The Russian wording of one regulation's names.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RussianRegulation {
    /// Whether this is an official text (else it is our translation).
    pub official: bool,
    /// The service's name.
    pub name: String,
    /// Result document names by result code.
    #[serde(default)]
    pub results: BTreeMap<String, String>,
}

const RUSSIAN: &str = include_str!("../../data/i18n/ru.toml");
const TEXTS: &str = include_str!("../../data/i18n/texts.toml");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TextsFile {
    text: Vec<Text>,
}

/// One English-only text of the data with its Russian (and, where the data has none, Kazakh)
/// wording.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Text {
    /// The English text, exactly as in the data.
    pub en: String,
    /// Russian.
    pub ru: String,
    /// Kazakh, for texts the data has only in English.
    pub kk: Option<String>,
}

fn texts() -> &'static BTreeMap<String, Text> {
    static TEXTS_BY_EN: OnceLock<BTreeMap<String, Text>> = OnceLock::new();
    TEXTS_BY_EN.get_or_init(|| {
        toml::from_str::<TextsFile>(TEXTS)
            .map(|f| f.text.into_iter().map(|t| (t.en.clone(), t)).collect())
            .unwrap_or_default()
    })
}

/// A text of the data in `lang`: English as it is; Kazakh from the data's own Kazakh wording
/// (`own_kk`, the act's), else from `data/i18n/texts.toml`; Russian from that file. Where no
/// wording is known, the English text (never an empty one).
pub fn text(en: &str, own_kk: Option<&str>, lang: Language) -> String {
    let known = texts().get(en);
    match lang {
        Language::En => en,
        Language::Kk => own_kk
            .filter(|k| !k.is_empty())
            .or_else(|| known.and_then(|t| t.kk.as_deref()))
            .unwrap_or(en),
        Language::Ru => known.map(|t| t.ru.as_str()).unwrap_or(en),
    }
    .to_owned()
}

/// Whether `en` has a Russian wording, and a Kazakh one when the data has none of its own.
pub fn has_text(en: &str, needs_kk: bool) -> bool {
    texts()
        .get(en)
        .is_some_and(|t| !t.ru.is_empty() && (!needs_kk || t.kk.is_some()))
}

/// The Russian names of a regulation (by regulation code), if we have them.
pub fn russian(regulation: &str) -> Option<&'static RussianRegulation> {
    static FILE: OnceLock<BTreeMap<String, RussianRegulation>> = OnceLock::new();
    FILE.get_or_init(|| {
        toml::from_str::<RussianFile>(RUSSIAN)
            .map(|f| f.regulations)
            .unwrap_or_default()
    })
    .get(regulation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_preferred_of_the_three() {
        assert_eq!(
            Language::from_accept_language("ru-RU,ru;q=0.9,en;q=0.8"),
            Language::Ru
        );
        assert_eq!(
            Language::from_accept_language("en-GB, kk;q=0.5"),
            Language::En
        );
        assert_eq!(
            Language::from_accept_language("de-DE, en;q=0.3, ru;q=0.7"),
            Language::Ru
        );
        assert_eq!(Language::from_accept_language("kk-KZ"), Language::Kk);
        assert_eq!(
            Language::from_accept_language("fr, de"),
            Language::Kk,
            "none of ours: Kazakh"
        );
        assert_eq!(Language::from_accept_language(""), Language::Kk);
        assert_eq!(
            Language::from_accept_language("ru;q=0, en"),
            Language::En,
            "q=0 means not"
        );
        assert_eq!(
            Language::from_accept_language("ru;q=abc"),
            Language::Ru,
            "an unreadable q is 1"
        );
    }

    #[test]
    fn every_label_exists_in_every_language_and_differs_between_kazakh_and_russian() {
        use crate::case::ALL_STATUSES;
        for l in [Language::Kk, Language::Ru, Language::En] {
            for s in ALL_STATUSES {
                assert!(!status(s, l).is_empty());
            }
        }
        assert_ne!(
            stage(Stage::Resolution, Language::Kk),
            stage(Stage::Resolution, Language::Ru)
        );
        assert_eq!(mailbox(Mailbox::Head, Language::Ru), "Руководитель");
        assert_eq!(error_message("NOT_FOUND", Language::Kk), Some("Табылмады."));
        assert_eq!(
            error_message("PERSISTED_QUERY_NOT_FOUND", Language::Ru),
            None
        );
        for code in ERROR_CODES {
            for l in [Language::Kk, Language::Ru, Language::En] {
                assert!(error_message(code, l).is_some(), "{code}");
            }
        }
    }

    #[test]
    fn the_russian_catalogue_names_every_bundled_regulation_and_its_results() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/regulations");
        let mut n = 0;
        for entry in std::fs::read_dir(dir).expect("regulations") {
            let path = entry.expect("entry").path();
            let text = std::fs::read_to_string(&path).expect("read");
            let reg = crate::regulation::Regulation::parse(&path.display().to_string(), &text)
                .expect("parses");
            let ru = russian(&reg.code).unwrap_or_else(|| panic!("no Russian for {}", reg.code));
            assert!(!ru.name.is_empty());
            for r in &reg.results {
                assert!(
                    ru.results.contains_key(&r.code),
                    "{}: result {}",
                    reg.code,
                    r.code
                );
            }
            n += 1;
        }
        assert_eq!(n, 13);
        for leg in ["intake", "transfer_to_provider", "result_back", "issue"] {
            let en = crate::case::leg_output(leg);
            assert!(has_text(en, true), "leg {leg}: {en:?}");
        }
    }

    #[test]
    fn every_display_text_of_the_bundled_regulations_has_its_russian_and_kazakh_wording() {
        let mut missing = Vec::new();
        for (file, text) in crate::regulation::BUNDLED_REGULATIONS {
            let reg = crate::regulation::Regulation::parse(file, text).expect("parses");
            let mut need = |en: &str, needs_kk: bool| {
                if !has_text(en, needs_kk) {
                    missing.push(format!("{}: {en:?}", reg.code));
                }
            };
            for s in &reg.steps {
                need(&s.actor_en, s.actor_kk.is_empty());
                need(&s.action_en, s.action_kk.is_empty());
                need(&s.output_en, true);
            }
            for r in &reg.refusals {
                need(&r.grounds_en, true);
            }
            for w in &reg.acceptance_windows {
                need(&w.label_en, w.label_kk.is_empty());
            }
        }
        assert!(
            missing.is_empty(),
            "add to data/i18n/texts.toml:\n{}",
            missing.join("\n")
        );
    }

    #[test]
    fn a_text_falls_back_to_english_never_to_nothing() {
        assert_eq!(
            text("Signed result", None, Language::Ru),
            "Подписанный результат"
        );
        assert_eq!(
            text("Signed result", None, Language::Kk),
            "Қол қойылған нәтиже"
        );
        assert_eq!(
            text("Signed result", Some("өз мәтіні"), Language::Kk),
            "өз мәтіні"
        );
        assert_eq!(text("no such text", None, Language::Ru), "no such text");
    }
}
