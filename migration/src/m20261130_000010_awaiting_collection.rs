//! The report rollup counts results awaiting collection, and remembers which version of the
//! counting rules its rows were computed with. The rows are not recounted here: the server
//! rebuilds the rollups at start when their rules version is not the code's
//! (`store::rollup::ensure_current`), with the SQL built from the one definition of the rules,
//! so this migration needs no copy of them.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ReportRollup {
    Table,
    AwaitingCollection,
}

#[derive(DeriveIden)]
enum RollupRules {
    Table,
    Id,
    Version,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ReportRollup::Table)
                    .add_column(
                        ColumnDef::new(ReportRollup::AwaitingCollection)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await?;
        // One row (id 1) once the rollups have been computed; none means "rebuild".
        manager
            .create_table(
                Table::create()
                    .table(RollupRules::Table)
                    .col(
                        ColumnDef::new(RollupRules::Id)
                            .integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(RollupRules::Version).integer().not_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RollupRules::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ReportRollup::Table)
                    .drop_column(ReportRollup::AwaitingCollection)
                    .to_owned(),
            )
            .await
    }
}
