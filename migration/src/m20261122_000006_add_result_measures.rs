//! What reports measure, recorded once when it happens: when the result reached the applicant's
//! channel, whether that was within the legal term, how many working days it took, whether the
//! result went back unclaimed; and per step, the working minutes it used.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ServiceCase {
    Table,
    ResultAt,
    ResultOnTime,
    ResultWorkingDays,
    ReturnedUnclaimed,
    RegisteredAt,
    RegionCode,
    ServiceCode,
    ProviderId,
    Channel,
    Status,
    TermDueAt,
    RefusalPrepared,
}

#[derive(DeriveIden)]
enum CaseStep {
    Table,
    UsedMinutes,
    FinishedAt,
    StartedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        for col in [
            ColumnDef::new(ServiceCase::ResultAt)
                .timestamp_with_time_zone()
                .to_owned(),
            ColumnDef::new(ServiceCase::ResultOnTime)
                .boolean()
                .to_owned(),
            ColumnDef::new(ServiceCase::ResultWorkingDays)
                .double()
                .to_owned(),
            ColumnDef::new(ServiceCase::ReturnedUnclaimed)
                .boolean()
                .not_null()
                .default(false)
                .to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(ServiceCase::Table)
                        .add_column(col)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(CaseStep::Table)
                    .add_column(ColumnDef::new(CaseStep::UsedMinutes).big_integer())
                    .to_owned(),
            )
            .await?;
        // Reports scan one period of registrations and group by these columns.
        manager
            .create_index(
                Index::create()
                    .name("ix_case_report")
                    .table(ServiceCase::Table)
                    .col(ServiceCase::RegisteredAt)
                    .col(ServiceCase::RegionCode)
                    .col(ServiceCase::ServiceCode)
                    .col(ServiceCase::ProviderId)
                    .col(ServiceCase::Channel)
                    .col(ServiceCase::Status)
                    .col(ServiceCase::ResultAt)
                    .col(ServiceCase::ResultOnTime)
                    .col(ServiceCase::ResultWorkingDays)
                    .col(ServiceCase::TermDueAt)
                    .col(ServiceCase::RefusalPrepared)
                    .col(ServiceCase::ReturnedUnclaimed)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_case_step_started")
                    .table(CaseStep::Table)
                    .col(CaseStep::StartedAt)
                    .col(CaseStep::FinishedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ix_case_step_started")
                    .table(CaseStep::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("ix_case_report")
                    .table(ServiceCase::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(CaseStep::Table)
                    .drop_column(CaseStep::UsedMinutes)
                    .to_owned(),
            )
            .await?;
        for col in [
            ServiceCase::ReturnedUnclaimed,
            ServiceCase::ResultWorkingDays,
            ServiceCase::ResultOnTime,
            ServiceCase::ResultAt,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(ServiceCase::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
