//! Accounts and sessions: staff users, applicants, refresh tokens (stored only as hashes) and
//! the login throttle shared by every node.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AppUser {
    Table,
    Id,
    Username,
    PasswordHash,
    Role,
    OrganisationId,
    RegionCode,
    Active,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Applicant {
    Table,
    Id,
    Iin,
    FullName,
    PasswordHash,
    Active,
    CreatedAt,
}

#[derive(DeriveIden)]
enum RefreshToken {
    Table,
    Id,
    TokenHash,
    Family,
    Subject,
    SubjectId,
    ExpiresAt,
    UsedAt,
    RevokedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum LoginThrottle {
    Table,
    Key,
    Failures,
    LockedUntil,
    LastFailureAt,
}

#[derive(DeriveIden)]
enum Organisation {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Region {
    Table,
    Code,
}

fn id<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col)
        .big_integer()
        .not_null()
        .auto_increment()
        .primary_key()
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AppUser::Table)
                    .col(id(AppUser::Id))
                    .col(
                        ColumnDef::new(AppUser::Username)
                            .string_len(64)
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(AppUser::PasswordHash).string().not_null())
                    .col(ColumnDef::new(AppUser::Role).string_len(32).not_null())
                    .col(ColumnDef::new(AppUser::OrganisationId).big_integer())
                    .col(ColumnDef::new(AppUser::RegionCode).string_len(32))
                    .col(ColumnDef::new(AppUser::Active).boolean().not_null())
                    .col(
                        ColumnDef::new(AppUser::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AppUser::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_app_user_organisation")
                            .from(AppUser::Table, AppUser::OrganisationId)
                            .to(Organisation::Table, Organisation::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_app_user_region")
                            .from(AppUser::Table, AppUser::RegionCode)
                            .to(Region::Table, Region::Code),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_app_user_organisation")
                    .table(AppUser::Table)
                    .col(AppUser::OrganisationId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Applicant::Table)
                    .col(id(Applicant::Id))
                    .col(
                        ColumnDef::new(Applicant::Iin)
                            .string_len(12)
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Applicant::FullName).string().not_null())
                    .col(ColumnDef::new(Applicant::PasswordHash).string().not_null())
                    .col(ColumnDef::new(Applicant::Active).boolean().not_null())
                    .col(
                        ColumnDef::new(Applicant::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RefreshToken::Table)
                    .col(id(RefreshToken::Id))
                    .col(
                        ColumnDef::new(RefreshToken::TokenHash)
                            .string_len(64)
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(RefreshToken::Family)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RefreshToken::Subject)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RefreshToken::SubjectId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RefreshToken::ExpiresAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(RefreshToken::UsedAt).timestamp_with_time_zone())
                    .col(ColumnDef::new(RefreshToken::RevokedAt).timestamp_with_time_zone())
                    .col(
                        ColumnDef::new(RefreshToken::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            ("ix_refresh_token_family", vec![RefreshToken::Family]),
            (
                "ix_refresh_token_subject",
                vec![RefreshToken::Subject, RefreshToken::SubjectId],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(RefreshToken::Table);
            for c in cols {
                index.col(c);
            }
            manager.create_index(index.to_owned()).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(LoginThrottle::Table)
                    .col(
                        ColumnDef::new(LoginThrottle::Key)
                            .string_len(200)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(LoginThrottle::Failures).integer().not_null())
                    .col(ColumnDef::new(LoginThrottle::LockedUntil).timestamp_with_time_zone())
                    .col(
                        ColumnDef::new(LoginThrottle::LastFailureAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            LoginThrottle::Table.into_iden(),
            RefreshToken::Table.into_iden(),
            Applicant::Table.into_iden(),
            AppUser::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(t).to_owned())
                .await?;
        }
        Ok(())
    }
}
