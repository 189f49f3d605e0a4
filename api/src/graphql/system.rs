//! Facts about the running service itself.

use async_graphql::Object;

/// Queries about the service.
#[derive(Default)]
pub struct SystemQuery;

#[Object]
impl SystemQuery {
    /// The qyzmet release serving this API, e.g. `0.1.0`.
    async fn api_version(&self) -> &'static str {
        env!("CARGO_PKG_VERSION")
    }
}
