//! The channels of a service, shared by the catalog, cases and refusals (a leaf: it imports no
//! other part of the schema).

use async_graphql::Enum;

/// Where applications are accepted and results issued.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "domain::regulation::Channel")]
pub enum Channel {
    /// The provider's own office.
    ProviderOffice,
    /// The State Corporation "Government for Citizens" (ЦОН).
    StateCorporation,
    /// The egov.kz portal.
    Portal,
}
