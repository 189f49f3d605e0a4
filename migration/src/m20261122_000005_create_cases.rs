//! Cases, their steps and their hash-chained events. The columns inboxes, overdue lists and
//! reports filter and sort on are plain indexed columns.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ServiceCase {
    Table,
    Id,
    Number,
    RegulationId,
    RegulationCode,
    RegulationVersion,
    ServiceCode,
    RegionCode,
    ProviderId,
    CorporationId,
    Channel,
    Status,
    Stage,
    RouteIndex,
    CurrentMailbox,
    CurrentOrgId,
    AssigneeId,
    ApplicantIin,
    ApplicantName,
    ApplicantContacts,
    ApplicantId,
    Attributes,
    Documents,
    Receipt,
    Result,
    Refusal,
    RefusalPrepared,
    RegisteredAt,
    TermDueAt,
    ProviderDueAt,
    StepStartedAt,
    StepDueAt,
    StorageDueAt,
    CalendarVersion,
    IdempotencyKey,
    Version,
    CreatedAt,
    UpdatedAt,
    ClosedAt,
}

#[derive(DeriveIden)]
enum CaseStep {
    Table,
    Id,
    CaseId,
    Seq,
    Stage,
    StepOrder,
    Leg,
    Mailbox,
    OrganisationId,
    ActorId,
    ActorName,
    StartedAt,
    DueAt,
    AllowedMinutes,
    FinishedAt,
    OnTime,
    Outcome,
    Comment,
}

#[derive(DeriveIden)]
enum CaseEvent {
    Table,
    Id,
    CaseId,
    Seq,
    Kind,
    Payload,
    Actor,
    At,
    PrevHash,
    Hash,
}

#[derive(DeriveIden)]
enum Regulation {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Organisation {
    Table,
    Id,
}

fn id<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col)
        .big_integer()
        .not_null()
        .auto_increment()
        .primary_key()
        .to_owned()
}

fn ts<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col).timestamp_with_time_zone().to_owned()
}

async fn index(
    manager: &SchemaManager<'_>,
    name: &str,
    table: impl IntoIden,
    cols: Vec<DynIden>,
    unique: bool,
) -> Result<(), DbErr> {
    let mut i = Index::create();
    i.name(name).table(table);
    for c in cols {
        i.col(c);
    }
    if unique {
        i.unique();
    }
    manager.create_index(i.to_owned()).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ServiceCase as C;
        manager
            .create_table(
                Table::create()
                    .table(C::Table)
                    .col(id(C::Id))
                    .col(ColumnDef::new(C::Number).string_len(40).not_null())
                    .col(ColumnDef::new(C::RegulationId).big_integer().not_null())
                    .col(ColumnDef::new(C::RegulationCode).string_len(64).not_null())
                    .col(ColumnDef::new(C::RegulationVersion).integer().not_null())
                    .col(ColumnDef::new(C::ServiceCode).string_len(64).not_null())
                    .col(ColumnDef::new(C::RegionCode).string_len(32).not_null())
                    .col(ColumnDef::new(C::ProviderId).big_integer().not_null())
                    .col(ColumnDef::new(C::CorporationId).big_integer())
                    .col(ColumnDef::new(C::Channel).string_len(24).not_null())
                    .col(ColumnDef::new(C::Status).string_len(24).not_null())
                    .col(ColumnDef::new(C::Stage).string_len(24).not_null())
                    .col(ColumnDef::new(C::RouteIndex).integer())
                    .col(ColumnDef::new(C::CurrentMailbox).string_len(16))
                    .col(ColumnDef::new(C::CurrentOrgId).big_integer())
                    .col(ColumnDef::new(C::AssigneeId).big_integer())
                    .col(ColumnDef::new(C::ApplicantIin).string_len(12).not_null())
                    .col(ColumnDef::new(C::ApplicantName).string().not_null())
                    .col(ColumnDef::new(C::ApplicantContacts).text().not_null())
                    .col(ColumnDef::new(C::ApplicantId).big_integer())
                    .col(ColumnDef::new(C::Attributes).text().not_null())
                    .col(ColumnDef::new(C::Documents).text().not_null())
                    .col(ColumnDef::new(C::Receipt).text())
                    .col(ColumnDef::new(C::Result).text())
                    .col(ColumnDef::new(C::Refusal).text())
                    .col(ColumnDef::new(C::RefusalPrepared).boolean().not_null())
                    .col(ts(C::RegisteredAt).not_null())
                    .col(ts(C::TermDueAt))
                    .col(ts(C::ProviderDueAt))
                    .col(ts(C::StepStartedAt))
                    .col(ts(C::StepDueAt))
                    .col(ts(C::StorageDueAt))
                    .col(ColumnDef::new(C::CalendarVersion).integer().not_null())
                    .col(ColumnDef::new(C::IdempotencyKey).string_len(200))
                    .col(ColumnDef::new(C::Version).integer().not_null())
                    .col(ts(C::CreatedAt).not_null())
                    .col(ts(C::UpdatedAt).not_null())
                    .col(ts(C::ClosedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_case_regulation")
                            .from(C::Table, C::RegulationId)
                            .to(Regulation::Table, Regulation::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_case_provider")
                            .from(C::Table, C::ProviderId)
                            .to(Organisation::Table, Organisation::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_case_corporation")
                            .from(C::Table, C::CorporationId)
                            .to(Organisation::Table, Organisation::Id),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ux_case_number",
            C::Table,
            vec![C::Number.into_iden()],
            true,
        )
        .await?;
        index(
            manager,
            "ux_case_idempotency",
            C::Table,
            vec![C::IdempotencyKey.into_iden()],
            true,
        )
        .await?;
        // The inbox: one organisation's mailbox, by step due time, keyset on id.
        index(
            manager,
            "ix_case_inbox",
            C::Table,
            vec![
                C::CurrentOrgId.into_iden(),
                C::CurrentMailbox.into_iden(),
                C::StepDueAt.into_iden(),
                C::Id.into_iden(),
            ],
            false,
        )
        .await?;
        index(
            manager,
            "ix_case_provider",
            C::Table,
            vec![C::ProviderId.into_iden(), C::RegisteredAt.into_iden()],
            false,
        )
        .await?;
        index(
            manager,
            "ix_case_corporation",
            C::Table,
            vec![C::CorporationId.into_iden()],
            false,
        )
        .await?;
        index(
            manager,
            "ix_case_applicant",
            C::Table,
            vec![C::ApplicantIin.into_iden(), C::RegisteredAt.into_iden()],
            false,
        )
        .await?;
        index(
            manager,
            "ix_case_region_registered",
            C::Table,
            vec![C::RegionCode.into_iden(), C::RegisteredAt.into_iden()],
            false,
        )
        .await?;
        index(
            manager,
            "ix_case_step_due",
            C::Table,
            vec![C::StepDueAt.into_iden()],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(CaseStep::Table)
                    .col(id(CaseStep::Id))
                    .col(ColumnDef::new(CaseStep::CaseId).big_integer().not_null())
                    .col(ColumnDef::new(CaseStep::Seq).integer().not_null())
                    .col(ColumnDef::new(CaseStep::Stage).string_len(24).not_null())
                    .col(ColumnDef::new(CaseStep::StepOrder).integer())
                    .col(ColumnDef::new(CaseStep::Leg).string_len(32))
                    .col(ColumnDef::new(CaseStep::Mailbox).string_len(16).not_null())
                    .col(
                        ColumnDef::new(CaseStep::OrganisationId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(CaseStep::ActorId).big_integer())
                    .col(ColumnDef::new(CaseStep::ActorName).string_len(64))
                    .col(ts(CaseStep::StartedAt).not_null())
                    .col(ts(CaseStep::DueAt))
                    .col(ColumnDef::new(CaseStep::AllowedMinutes).big_integer())
                    .col(ts(CaseStep::FinishedAt))
                    .col(ColumnDef::new(CaseStep::OnTime).boolean())
                    .col(ColumnDef::new(CaseStep::Outcome).string_len(40))
                    .col(ColumnDef::new(CaseStep::Comment).text())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_case_step_case")
                            .from(CaseStep::Table, CaseStep::CaseId)
                            .to(ServiceCase::Table, ServiceCase::Id),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ux_case_step_seq",
            CaseStep::Table,
            vec![CaseStep::CaseId.into_iden(), CaseStep::Seq.into_iden()],
            true,
        )
        .await?;
        index(
            manager,
            "ix_case_step_open_due",
            CaseStep::Table,
            vec![
                CaseStep::FinishedAt.into_iden(),
                CaseStep::DueAt.into_iden(),
            ],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(CaseEvent::Table)
                    .col(id(CaseEvent::Id))
                    .col(ColumnDef::new(CaseEvent::CaseId).big_integer().not_null())
                    .col(ColumnDef::new(CaseEvent::Seq).integer().not_null())
                    .col(ColumnDef::new(CaseEvent::Kind).string_len(40).not_null())
                    .col(ColumnDef::new(CaseEvent::Payload).text().not_null())
                    .col(ColumnDef::new(CaseEvent::Actor).string_len(64).not_null())
                    .col(ts(CaseEvent::At).not_null())
                    .col(
                        ColumnDef::new(CaseEvent::PrevHash)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(ColumnDef::new(CaseEvent::Hash).string_len(64).not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_case_event_case")
                            .from(CaseEvent::Table, CaseEvent::CaseId)
                            .to(ServiceCase::Table, ServiceCase::Id),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ux_case_event_seq",
            CaseEvent::Table,
            vec![CaseEvent::CaseId.into_iden(), CaseEvent::Seq.into_iden()],
            true,
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            CaseEvent::Table.into_iden(),
            CaseStep::Table.into_iden(),
            ServiceCase::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(t).to_owned())
                .await?;
        }
        Ok(())
    }
}
