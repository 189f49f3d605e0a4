//! Files attached to cases (issue 16): one row per attachment, and staff members' IINs (to match
//! their signatures); the content itself lives in the
//! file store under its SHA-256, shared by identical files. A file that came with an accepted
//! electronic signature records the signer's IIN and the signing time.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CaseFile {
    Table,
    Id,
    CaseId,
    Name,
    Sha256,
    Size,
    MediaType,
    UploadedBy,
    UploadedAt,
    SignerIin,
    SignedAt,
}

#[derive(DeriveIden)]
enum AppUser {
    Table,
    Iin,
}

#[derive(DeriveIden)]
enum ServiceCase {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CaseFile::Table)
                    .col(
                        ColumnDef::new(CaseFile::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(CaseFile::CaseId).big_integer().not_null())
                    .col(ColumnDef::new(CaseFile::Name).string_len(200).not_null())
                    .col(ColumnDef::new(CaseFile::Sha256).string_len(64).not_null())
                    .col(ColumnDef::new(CaseFile::Size).big_integer().not_null())
                    .col(
                        ColumnDef::new(CaseFile::MediaType)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(CaseFile::UploadedBy)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(CaseFile::UploadedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(CaseFile::SignerIin).string_len(12).null())
                    .col(
                        ColumnDef::new(CaseFile::SignedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_case_file_case")
                            .from(CaseFile::Table, CaseFile::CaseId)
                            .to(ServiceCase::Table, ServiceCase::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // A staff member's IIN, to match their electronic signature (a head signs results).
        manager
            .alter_table(
                Table::alter()
                    .table(AppUser::Table)
                    .add_column(ColumnDef::new(AppUser::Iin).string_len(12).null())
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("ix_case_file_case", CaseFile::CaseId),
            ("ix_case_file_sha256", CaseFile::Sha256),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(CaseFile::Table)
                        .col(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(AppUser::Table)
                    .drop_column(AppUser::Iin)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(CaseFile::Table).to_owned())
            .await
    }
}
