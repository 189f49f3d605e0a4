//! Refusals as the acts provide them: who refuses, on which channels, on which grounds, and
//! where the act says so. A client draws its refusal button from these (and from
//! `AvailableAction.refusal`), never from a list of its own.

use async_graphql::{ComplexObject, Context, Enum, SimpleObject};
use domain::regulation as reg;

use crate::graphql::channel::Channel;
use crate::graphql::language::{chosen, Language};

/// The kind of a refusal.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "domain::regulation::RefusalCode")]
pub enum RefusalKind {
    /// Refusal to accept the documents, with a refusal receipt.
    IntakeRefusal,
    /// A reasoned refusal (дәлелді жауап) after examination.
    ReasonedRefusal,
}

/// Who gives a refusal.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "domain::regulation::RefusedBy")]
pub enum RefusedBy {
    /// The State Corporation employee at the counter.
    StateCorporation,
    /// The provider: its office at intake, its executor and head for a reasoned refusal.
    Provider,
}

/// A ground of refusal the acts name.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "domain::regulation::RefusalGround")]
pub enum RefusalGround {
    /// The package of documents is incomplete: name the missing documents (`missing`).
    IncompletePackage,
    /// Documents whose validity has expired: name them (`expired`).
    ExpiredDocuments,
    /// The grounds the service's Standard lists: write them (`refusalGrounds`).
    StandardGrounds,
}

/// A refusal the act provides. From regulation format 2 on, it is a rule: any other refusal is
/// `REFUSAL_NOT_PROVIDED` and changes nothing.
#[derive(SimpleObject, Clone, Debug, PartialEq)]
#[graphql(complex)]
pub struct Refusal {
    /// Intake refusal or reasoned refusal.
    kind: RefusalKind,
    /// The channels of the cases it applies to.
    channels: Vec<Channel>,
    /// Who refuses; null in a regulation version of format 1 (a catalogue, not a rule).
    by: Option<RefusedBy>,
    /// The grounds the act names, as codes; empty in a regulation version of format 1.
    ground_codes: Vec<RefusalGround>,
    /// True when every ground must hold at once (the act joins them with "and", «және»);
    /// false when any one suffices ("and/or").
    all_grounds: bool,
    /// The paragraph of the act; null in a regulation version of format 1.
    paragraph: Option<String>,
    /// The grounds, as the act states them (English extract).
    grounds_en: String,
}

#[ComplexObject]
impl Refusal {
    /// The grounds in one language (the request's `Accept-Language` unless given); Kazakh and
    /// Russian are our translation of the English extract.
    async fn grounds(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The language; the request's when omitted.")] language: Option<Language>,
    ) -> String {
        domain::language::text(&self.grounds_en, None, chosen(ctx, language))
    }
}

impl From<&reg::RefusalKind> for Refusal {
    fn from(r: &reg::RefusalKind) -> Refusal {
        Refusal {
            kind: r.kind.into(),
            channels: r.channels.iter().map(|c| (*c).into()).collect(),
            by: r.by.map(Into::into),
            ground_codes: r.grounds.iter().map(|g| (*g).into()).collect(),
            all_grounds: r.all_grounds,
            paragraph: r.paragraph.clone(),
            grounds_en: r.grounds_en.clone(),
        }
    }
}
