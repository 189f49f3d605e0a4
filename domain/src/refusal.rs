//! Which refusals are lawful: only those the pinned regulation provides, by whom it names, on
//! the channel it names, on its grounds. Everything else is `REFUSAL_NOT_PROVIDED`, and the
//! message says what the act allows there.
//!
//! Regulations of format 1 (versions stored before refusals became rules) kept refusals as a
//! catalogue; cases pinned to them keep the behaviour they were registered under: every
//! refusal is allowed.

use crate::regulation::{Channel, RefusalCode, RefusalGround, RefusalKind, RefusedBy, Regulation};

/// A refusal the pinned regulation does not provide there, or not on these grounds: the
/// message names what the act allows (code `REFUSAL_NOT_PROVIDED`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotProvided(pub String);

/// The grounds an intake refusal claims: an incomplete package when documents are missing,
/// expired documents when some have expired.
pub fn claimed(missing: &[String], expired: &[String]) -> Vec<RefusalGround> {
    let mut grounds = Vec::new();
    if !missing.is_empty() {
        grounds.push(RefusalGround::IncompletePackage);
    }
    if !expired.is_empty() {
        grounds.push(RefusalGround::ExpiredDocuments);
    }
    grounds
}

/// Whether a rule's grounds hold: all of them when the act joins them with "and", any one
/// otherwise.
pub fn grounds_hold(rule: &RefusalKind, claimed: &[RefusalGround]) -> bool {
    if rule.all_grounds {
        rule.grounds.iter().all(|g| claimed.contains(g))
    } else {
        rule.grounds.iter().any(|g| claimed.contains(g))
    }
}

/// The fewest documents an intake refusal under `rule` must name for its grounds to hold, as
/// (missing, expired): an incomplete package where that is a ground, else expired documents;
/// both where the act needs both. `None` where no refusal is provided.
pub fn fewest_grounds(rule: Option<&RefusalKind>) -> Option<(bool, bool)> {
    let rule = rule?;
    let incomplete = rule.grounds.contains(&RefusalGround::IncompletePackage);
    let expired = rule.grounds.contains(&RefusalGround::ExpiredDocuments);
    Some(if rule.all_grounds {
        (incomplete, expired)
    } else {
        (incomplete, expired && !incomplete)
    })
}

/// Checks a refusal at intake by `by` of a case on `channel` for these missing and expired
/// documents.
pub fn check_intake(
    reg: &Regulation,
    channel: Channel,
    by: RefusedBy,
    missing: &[String],
    expired: &[String],
) -> Result<(), NotProvided> {
    if !reg.refusals_are_rules() {
        return Ok(());
    }
    let Some(rule) = reg.refusal(RefusalCode::IntakeRefusal, channel, by) else {
        return Err(NotProvided(format!(
            "{} provides no refusal at intake by {} on the {} channel: accept the documents or hand them back",
            reg.code,
            who(by),
            channel_words(channel)
        )));
    };
    if grounds_hold(rule, &claimed(missing, expired)) {
        Ok(())
    } else {
        Err(NotProvided(format!(
            "{} allows a refusal at intake by {} only for {} ({})",
            reg.code,
            who(by),
            grounds_words(rule),
            rule.paragraph.as_deref().unwrap_or("the act")
        )))
    }
}

/// Checks a reasoned refusal of a case on `channel`.
pub fn check_reasoned(reg: &Regulation, channel: Channel) -> Result<(), NotProvided> {
    if !reg.refusals_are_rules()
        || reg
            .refusal(RefusalCode::ReasonedRefusal, channel, RefusedBy::Provider)
            .is_some()
    {
        return Ok(());
    }
    Err(NotProvided(format!(
        "{} provides no reasoned refusal on the {} channel: prepare the result",
        reg.code,
        channel_words(channel)
    )))
}

/// The refusal `by` may give on a case on `channel`, as a client offers it (none: no refusal
/// button). For a format 1 regulation, its catalogue entry of that kind and channel.
pub fn offered(
    reg: &Regulation,
    kind: RefusalCode,
    channel: Channel,
    by: RefusedBy,
) -> Option<RefusalKind> {
    if reg.refusals_are_rules() {
        reg.refusal(kind, channel, by).cloned()
    } else {
        reg.refusals
            .iter()
            .find(|r| r.kind == kind && r.channels.contains(&channel))
            .cloned()
    }
}

fn who(by: RefusedBy) -> &'static str {
    match by {
        RefusedBy::StateCorporation => "the State Corporation",
        RefusedBy::Provider => "the provider",
    }
}

fn channel_words(c: Channel) -> &'static str {
    match c {
        Channel::ProviderOffice => "provider's office",
        Channel::StateCorporation => "State Corporation",
        Channel::Portal => "portal",
    }
}

fn grounds_words(rule: &RefusalKind) -> String {
    let words: Vec<&str> = rule
        .grounds
        .iter()
        .map(|g| match g {
            RefusalGround::IncompletePackage => "an incomplete package",
            RefusalGround::ExpiredDocuments => "expired documents",
            RefusalGround::StandardGrounds => "the grounds of the Standard",
        })
        .collect();
    words.join(if rule.all_grounds { " and " } else { " or " })
}

#[cfg(test)]
mod tests;
