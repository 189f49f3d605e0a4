//! Regulations as versioned data: one row per (code, version); the document itself is kept
//! whole, and the columns that queries filter on are copied out and indexed.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Regulation {
    Table,
    Id,
    Code,
    Version,
    ServiceCode,
    RegionCode,
    ContentHash,
    Document,
    Source,
    LoadedAt,
}

#[derive(DeriveIden)]
enum Region {
    Table,
    Code,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Regulation::Table)
                    .col(
                        ColumnDef::new(Regulation::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Regulation::Code).string_len(64).not_null())
                    .col(ColumnDef::new(Regulation::Version).integer().not_null())
                    .col(
                        ColumnDef::new(Regulation::ServiceCode)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Regulation::RegionCode)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Regulation::ContentHash)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Regulation::Document).text().not_null())
                    .col(ColumnDef::new(Regulation::Source).string().not_null())
                    .col(
                        ColumnDef::new(Regulation::LoadedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_regulation_region")
                            .from(Regulation::Table, Regulation::RegionCode)
                            .to(Region::Table, Region::Code),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols, unique) in [
            (
                "ux_regulation_code_version",
                vec![Regulation::Code, Regulation::Version],
                true,
            ),
            (
                "ux_regulation_code_hash",
                vec![Regulation::Code, Regulation::ContentHash],
                true,
            ),
            (
                "ix_regulation_service",
                vec![Regulation::ServiceCode],
                false,
            ),
            ("ix_regulation_region", vec![Regulation::RegionCode], false),
        ] {
            let mut index = Index::create();
            index.name(name).table(Regulation::Table);
            for col in cols {
                index.col(col);
            }
            if unique {
                index.unique();
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Regulation::Table).to_owned())
            .await
    }
}
