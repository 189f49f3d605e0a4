//! Languages for clients: the request's language (its `Accept-Language`, or a `language`
//! argument where a field takes one), localized names, and the labels of every enumerated value.

use async_graphql::{Context, Enum, Object, SimpleObject};
use domain::language as l10n;

/// A language of the interface.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "domain::language::Language")]
pub enum Language {
    /// Kazakh (қазақ тілі), the state language: the default.
    Kk,
    /// Russian (русский язык).
    Ru,
    /// English.
    En,
}

/// The language a request asked for with `Accept-Language` (HTTP, or the WebSocket upgrade).
#[derive(Clone, Copy, Debug, Default)]
pub struct RequestLanguage(pub l10n::Language);

/// The language an HTTP request (or a WebSocket upgrade) asks for with `Accept-Language`;
/// Kazakh by default.
pub fn of_request(req: &actix_web::HttpRequest) -> l10n::Language {
    req.headers()
        .get(actix_web::http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map(l10n::Language::from_accept_language)
        .unwrap_or_default()
}

/// The language to answer in: the field's `language` argument, else the request's, else Kazakh.
pub fn chosen(ctx: &Context<'_>, argument: Option<Language>) -> l10n::Language {
    argument
        .map(Into::into)
        .or_else(|| ctx.data_opt::<RequestLanguage>().map(|r| r.0))
        .unwrap_or_default()
}

pub use l10n::name;

/// The kinds of enumerated value that have labels.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum LabelGroup {
    /// `Stage` values.
    Stage,
    /// `CaseStatus` values.
    CaseStatus,
    /// `PublicProgress` values (what applicants are told).
    PublicProgress,
    /// `Mailbox` values.
    Mailbox,
    /// `Channel` values.
    Channel,
    /// `Role` values.
    Role,
    /// Error codes (`extensions.code`): the short message shown to a person.
    ErrorCode,
}

/// What to show for one enumerated value.
#[derive(SimpleObject)]
pub struct Label {
    /// Which enumeration.
    group: LabelGroup,
    /// The value as the schema spells it, e.g. `RESOLUTION`.
    code: String,
    /// The text to show.
    text: String,
}

/// Labels.
#[derive(Default)]
pub struct LanguageQuery;

#[Object]
impl LanguageQuery {
    /// The label of every stage, status, public progress, mailbox, channel, role and error
    /// code, in one language (the request's `Accept-Language` unless given): fetch once and
    /// show `text` wherever the schema gives a code.
    async fn labels(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The language; the request's `Accept-Language` when omitted.")]
        language: Option<Language>,
    ) -> Vec<Label> {
        use domain::case::{Stage, ALL_STATUSES};
        use domain::identity::Role;
        use domain::regulation::{Channel, Mailbox};
        use domain::view::PublicProgress as P;
        let lang = chosen(ctx, language);
        let mut out = Vec::new();
        let mut push = |group, code: &str, text: &str| {
            out.push(Label {
                group,
                code: code.to_owned(),
                text: text.to_owned(),
            })
        };
        for s in Stage::ALL {
            push(LabelGroup::Stage, s.as_str(), l10n::stage(s, lang));
        }
        for s in ALL_STATUSES {
            push(LabelGroup::CaseStatus, s.as_str(), l10n::status(s, lang));
        }
        for p in [
            P::AwaitingRegistration,
            P::UnderConsideration,
            P::ReadyForCollection,
            P::Issued,
            P::Refused,
            P::RefusedAtIntake,
            P::StoredAtProvider,
            P::ReturningToCounter,
        ] {
            push(
                LabelGroup::PublicProgress,
                p.as_str(),
                l10n::progress(p, lang),
            );
        }
        for (m, code) in [
            (Mailbox::Office, "OFFICE"),
            (Mailbox::Head, "HEAD"),
            (Mailbox::Executor, "EXECUTOR"),
            (Mailbox::Corporation, "CORPORATION"),
        ] {
            push(LabelGroup::Mailbox, code, l10n::mailbox(m, lang));
        }
        for (c, code) in [
            (Channel::ProviderOffice, "PROVIDER_OFFICE"),
            (Channel::StateCorporation, "STATE_CORPORATION"),
            (Channel::Portal, "PORTAL"),
        ] {
            push(LabelGroup::Channel, code, l10n::channel(c, lang));
        }
        for r in Role::ALL {
            push(LabelGroup::Role, r.as_str(), l10n::role(r, lang));
        }
        for code in l10n::ERROR_CODES {
            if let Some(text) = l10n::error_message(code, lang) {
                push(LabelGroup::ErrorCode, code, text);
            }
        }
        out
    }
}
