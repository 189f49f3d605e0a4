//! qyzmet's schema, one migration per change, written with SeaQuery's builders so that the same
//! code creates the same tables and indexes on SQLite and PostgreSQL. Never imports `entity`.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_create_directory;
mod m20261122_000002_create_regulation;
mod m20261122_000003_create_calendar_version;
mod m20261122_000004_create_accounts;
mod m20261122_000005_create_cases;
mod m20261122_000006_add_result_measures;
mod m20261122_000007_create_outbox_and_watch;
mod m20261122_000008_create_report_rollup;
mod m20261130_000009_typed_documents;
mod m20261130_000010_awaiting_collection;
mod m20261130_000011_frontend;
mod m20261130_000012_case_files;

/// Runs qyzmet's migrations in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_create_directory::Migration),
            Box::new(m20261122_000002_create_regulation::Migration),
            Box::new(m20261122_000003_create_calendar_version::Migration),
            Box::new(m20261122_000004_create_accounts::Migration),
            Box::new(m20261122_000005_create_cases::Migration),
            Box::new(m20261122_000006_add_result_measures::Migration),
            Box::new(m20261122_000007_create_outbox_and_watch::Migration),
            Box::new(m20261122_000008_create_report_rollup::Migration),
            Box::new(m20261130_000009_typed_documents::Migration),
            Box::new(m20261130_000010_awaiting_collection::Migration),
            Box::new(m20261130_000011_frontend::Migration),
            Box::new(m20261130_000012_case_files::Migration),
        ]
    }
}
