//! The directory of places: regions (oblasts and cities of republican significance) and
//! organisations (service providers and State Corporation branches).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Region {
    Table,
    Code,
    IsoCode,
    Kind,
    NameKk,
    NameEn,
    TimeZone,
}

#[derive(DeriveIden)]
enum Organisation {
    Table,
    Id,
    Code,
    Kind,
    NameKk,
    NameEn,
    RegionCode,
    District,
    WorkingHours,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Region::Table)
                    .col(
                        ColumnDef::new(Region::Code)
                            .string_len(32)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(Region::IsoCode)
                            .string_len(8)
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Region::Kind).string_len(16).not_null())
                    .col(ColumnDef::new(Region::NameKk).string().not_null())
                    .col(ColumnDef::new(Region::NameEn).string().not_null())
                    .col(ColumnDef::new(Region::TimeZone).string_len(64).not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Organisation::Table)
                    .col(
                        ColumnDef::new(Organisation::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(Organisation::Code)
                            .string_len(64)
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Organisation::Kind).string_len(32).not_null())
                    .col(ColumnDef::new(Organisation::NameKk).string().not_null())
                    .col(ColumnDef::new(Organisation::NameEn).string().not_null())
                    .col(
                        ColumnDef::new(Organisation::RegionCode)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Organisation::District).string())
                    .col(ColumnDef::new(Organisation::WorkingHours).text())
                    .col(
                        ColumnDef::new(Organisation::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_organisation_region")
                            .from(Organisation::Table, Organisation::RegionCode)
                            .to(Region::Table, Region::Code),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_organisation_region_kind")
                    .table(Organisation::Table)
                    .col(Organisation::RegionCode)
                    .col(Organisation::Kind)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Organisation::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Region::Table).to_owned())
            .await
    }
}
