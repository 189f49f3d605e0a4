//! What frontend teams need (issue 14): staff display names; Russian names of regions and
//! organisations; a key for searching cases by applicant name (lower-cased, filled by the server
//! at start for rows written before this migration, see `store::cases::fill_name_keys`); and the
//! automatic persisted queries shared by every node on one database.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AppUser {
    Table,
    DisplayName,
}

#[derive(DeriveIden)]
enum Region {
    Table,
    NameRu,
}

#[derive(DeriveIden)]
enum Organisation {
    Table,
    NameRu,
}

#[derive(DeriveIden)]
enum ServiceCase {
    Table,
    CurrentOrgId,
    CurrentMailbox,
    ApplicantNameKey,
    RegisteredAt,
    Id,
}

#[derive(DeriveIden)]
enum CaseStep {
    Table,
    OrganisationId,
    Mailbox,
    StartedAt,
    FinishedAt,
}

/// The indexes that serve a resumed `mailboxChanged` subscription: the steps a mailbox started
/// and finished after an instant.
const STEP_INDEXES: [(&str, CaseStep); 2] = [
    ("ix_case_step_mailbox_started", CaseStep::StartedAt),
    ("ix_case_step_mailbox_finished", CaseStep::FinishedAt),
];

#[derive(DeriveIden)]
enum PersistedQuery {
    Table,
    Hash,
    Query,
    CreatedAt,
}

/// The index that serves a name search in a mailbox (a prefix range on the key).
const NAME_INDEX: &str = "idx_service_case_mailbox_name";
/// The index that serves a mailbox read in registration order (either direction).
const REGISTERED_INDEX: &str = "ix_case_inbox_registered";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(AppUser::Table)
                    .add_column(ColumnDef::new(AppUser::DisplayName).string().null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Region::Table)
                    .add_column(ColumnDef::new(Region::NameRu).string().null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Organisation::Table)
                    .add_column(ColumnDef::new(Organisation::NameRu).string().null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ServiceCase::Table)
                    .add_column(
                        ColumnDef::new(ServiceCase::ApplicantNameKey)
                            .string()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        // The key is compared bytewise (a prefix is a range): SQLite's default collation is
        // binary; PostgreSQL's index and query use the "C" collation.
        if manager.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(&format!(
                    "CREATE INDEX {NAME_INDEX} ON service_case \
                     (current_org_id, current_mailbox, applicant_name_key COLLATE \"C\")"
                ))
                .await?;
        } else {
            manager
                .create_index(
                    Index::create()
                        .name(NAME_INDEX)
                        .table(ServiceCase::Table)
                        .col(ServiceCase::CurrentOrgId)
                        .col(ServiceCase::CurrentMailbox)
                        .col(ServiceCase::ApplicantNameKey)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name(REGISTERED_INDEX)
                    .table(ServiceCase::Table)
                    .col(ServiceCase::CurrentOrgId)
                    .col(ServiceCase::CurrentMailbox)
                    .col(ServiceCase::RegisteredAt)
                    .col(ServiceCase::Id)
                    .to_owned(),
            )
            .await?;
        for (name, at) in STEP_INDEXES {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(CaseStep::Table)
                        .col(CaseStep::OrganisationId)
                        .col(CaseStep::Mailbox)
                        .col(at)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(PersistedQuery::Table)
                    .col(
                        ColumnDef::new(PersistedQuery::Hash)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(PersistedQuery::Query).text().not_null())
                    .col(
                        ColumnDef::new(PersistedQuery::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_persisted_query_created")
                    .table(PersistedQuery::Table)
                    .col(PersistedQuery::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PersistedQuery::Table).to_owned())
            .await?;
        for (name, _) in STEP_INDEXES {
            manager
                .drop_index(Index::drop().name(name).table(CaseStep::Table).to_owned())
                .await?;
        }
        manager
            .drop_index(
                Index::drop()
                    .name(REGISTERED_INDEX)
                    .table(ServiceCase::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name(NAME_INDEX)
                    .table(ServiceCase::Table)
                    .to_owned(),
            )
            .await?;
        for (table, column) in [
            (
                ServiceCase::Table.into_iden(),
                ServiceCase::ApplicantNameKey.into_iden(),
            ),
            (
                Organisation::Table.into_iden(),
                Organisation::NameRu.into_iden(),
            ),
            (Region::Table.into_iden(), Region::NameRu.into_iden()),
            (AppUser::Table.into_iden(), AppUser::DisplayName.into_iden()),
        ] {
            manager
                .alter_table(Table::alter().table(table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}
