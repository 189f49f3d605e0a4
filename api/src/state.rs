//! What every request handler shares: built once at start-up, cloned cheaply.

use sea_orm::DatabaseConnection;

/// Shared application state.
#[derive(Clone)]
pub struct AppState {
    /// The database pool; the database is the truth.
    pub db: DatabaseConnection,
}
