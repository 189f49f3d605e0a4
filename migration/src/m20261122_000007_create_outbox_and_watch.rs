//! Applicant notifications written in the step's own transaction (an outbox), and the deadline
//! watchdog's marks on steps: when a step reaches 80% of its allowed time, and whether its
//! at-risk and overdue moments have been announced (each exactly once).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum NotificationOutbox {
    Table,
    Id,
    CaseId,
    Kind,
    Payload,
    IdempotencyKey,
    CreatedAt,
    Attempts,
    NextAttemptAt,
    DeliveredAt,
    LastError,
}

#[derive(DeriveIden)]
enum CaseStep {
    Table,
    RiskAt,
    RiskAnnouncedAt,
    OverdueAnnouncedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(NotificationOutbox::Table)
                    .col(
                        ColumnDef::new(NotificationOutbox::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(NotificationOutbox::CaseId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(NotificationOutbox::Kind)
                            .string_len(40)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(NotificationOutbox::Payload)
                            .text()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(NotificationOutbox::IdempotencyKey)
                            .string_len(80)
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(NotificationOutbox::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(NotificationOutbox::Attempts)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(NotificationOutbox::NextAttemptAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(NotificationOutbox::DeliveredAt).timestamp_with_time_zone())
                    .col(ColumnDef::new(NotificationOutbox::LastError).text())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_outbox_pending")
                    .table(NotificationOutbox::Table)
                    .col(NotificationOutbox::DeliveredAt)
                    .col(NotificationOutbox::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        for col in [
            ColumnDef::new(CaseStep::RiskAt)
                .timestamp_with_time_zone()
                .to_owned(),
            ColumnDef::new(CaseStep::RiskAnnouncedAt)
                .timestamp_with_time_zone()
                .to_owned(),
            ColumnDef::new(CaseStep::OverdueAnnouncedAt)
                .timestamp_with_time_zone()
                .to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(CaseStep::Table)
                        .add_column(col)
                        .to_owned(),
                )
                .await?;
        }
        for (name, col) in [
            ("ix_case_step_risk", CaseStep::RiskAnnouncedAt),
            ("ix_case_step_overdue", CaseStep::OverdueAnnouncedAt),
        ] {
            let time = if name.ends_with("risk") {
                CaseStep::RiskAt.into_iden()
            } else {
                Alias::new("due_at").into_iden()
            };
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(CaseStep::Table)
                        .col(col)
                        .col(time)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in ["ix_case_step_risk", "ix_case_step_overdue"] {
            manager
                .drop_index(Index::drop().name(name).table(CaseStep::Table).to_owned())
                .await?;
        }
        for col in [
            CaseStep::OverdueAnnouncedAt,
            CaseStep::RiskAnnouncedAt,
            CaseStep::RiskAt,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(CaseStep::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .drop_table(Table::drop().table(NotificationOutbox::Table).to_owned())
            .await
    }
}
