//! Versions of the working calendar. Every due date records the version it was computed on, so
//! an old version is never changed or removed.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CalendarVersion {
    Table,
    Version,
    ContentHash,
    FirstYear,
    LastYear,
    Document,
    Source,
    LoadedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CalendarVersion::Table)
                    .col(
                        ColumnDef::new(CalendarVersion::Version)
                            .integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(CalendarVersion::ContentHash)
                            .string_len(64)
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(CalendarVersion::FirstYear)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(CalendarVersion::LastYear)
                            .integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(CalendarVersion::Document).text().not_null())
                    .col(ColumnDef::new(CalendarVersion::Source).string().not_null())
                    .col(
                        ColumnDef::new(CalendarVersion::LoadedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(CalendarVersion::Table).to_owned())
            .await
    }
}
