//! Report totals kept up to date in the same transaction as every case change, so that a report
//! reads a few thousand rollup rows instead of every case of its period.
//!
//! One row per registration month (UTC+5), region, service, provider, channel, duration bucket
//! (working days from registration to delivery, in tenths; −1 for cases without one yet) and, for
//! cases in progress, the day (UTC+5) their legal term ends (empty otherwise), so that "overdue
//! now" is a sum over rows whose day has passed. Every case counts in exactly one row. Existing
//! cases are folded in once, here; from then on the case store moves a case's contribution from
//! its old row to its new one as it changes.
//!
//! Finished steps roll up the same way into `step_rollup`: per registration month, region,
//! service, provider, channel, mailbox, stage and share of the allowed working time used (in
//! hundredths), how many steps and how many late. A step finishes once, so these only grow.
//!
//! Open cases get a partial index by term: for the day in progress, reports count the cases whose
//! term ended before now from those rows.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ReportRollup {
    Table,
    Month,
    RegionCode,
    ServiceCode,
    ProviderId,
    Channel,
    Tenths,
    DueDay,
    Received,
    InProgress,
    Completed,
    CompletedOnTime,
    CompletedLate,
    RefusedAtIntake,
    RefusedWithReasons,
    ReturnedUnclaimed,
}

#[derive(DeriveIden)]
enum StepRollup {
    Table,
    Month,
    RegionCode,
    ServiceCode,
    ProviderId,
    Channel,
    Mailbox,
    Stage,
    ShareBucket,
    Steps,
    Late,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut table = Table::create();
        table
            .table(ReportRollup::Table)
            .col(ColumnDef::new(ReportRollup::Month).string().not_null())
            .col(ColumnDef::new(ReportRollup::RegionCode).string().not_null())
            .col(
                ColumnDef::new(ReportRollup::ServiceCode)
                    .string()
                    .not_null(),
            )
            .col(
                ColumnDef::new(ReportRollup::ProviderId)
                    .big_integer()
                    .not_null(),
            )
            .col(ColumnDef::new(ReportRollup::Channel).string().not_null())
            .col(ColumnDef::new(ReportRollup::Tenths).integer().not_null())
            .col(ColumnDef::new(ReportRollup::DueDay).string().not_null());
        for counter in [
            ReportRollup::Received,
            ReportRollup::InProgress,
            ReportRollup::Completed,
            ReportRollup::CompletedOnTime,
            ReportRollup::CompletedLate,
            ReportRollup::RefusedAtIntake,
            ReportRollup::RefusedWithReasons,
            ReportRollup::ReturnedUnclaimed,
        ] {
            // Integers: PostgreSQL sums them into a bigint without going through numeric.
            table.col(ColumnDef::new(counter).integer().not_null().default(0));
        }
        table.primary_key(
            Index::create()
                .col(ReportRollup::Month)
                .col(ReportRollup::RegionCode)
                .col(ReportRollup::ServiceCode)
                .col(ReportRollup::ProviderId)
                .col(ReportRollup::Channel)
                .col(ReportRollup::Tenths)
                .col(ReportRollup::DueDay),
        );
        manager.create_table(table.to_owned()).await?;
        manager
            .create_table(
                Table::create()
                    .table(StepRollup::Table)
                    .col(ColumnDef::new(StepRollup::Month).string().not_null())
                    .col(ColumnDef::new(StepRollup::RegionCode).string().not_null())
                    .col(ColumnDef::new(StepRollup::ServiceCode).string().not_null())
                    .col(
                        ColumnDef::new(StepRollup::ProviderId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(StepRollup::Channel).string().not_null())
                    .col(ColumnDef::new(StepRollup::Mailbox).string().not_null())
                    .col(ColumnDef::new(StepRollup::Stage).string().not_null())
                    .col(
                        ColumnDef::new(StepRollup::ShareBucket)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(StepRollup::Steps)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(StepRollup::Late)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .primary_key(
                        Index::create()
                            .col(StepRollup::Month)
                            .col(StepRollup::RegionCode)
                            .col(StepRollup::ServiceCode)
                            .col(StepRollup::ProviderId)
                            .col(StepRollup::Channel)
                            .col(StepRollup::Mailbox)
                            .col(StepRollup::Stage)
                            .col(StepRollup::ShareBucket),
                    )
                    .to_owned(),
            )
            .await?;

        let db = manager.get_connection();
        // Same text on both databases; both match a query's identical predicate to the index's.
        db.execute_unprepared(
            "CREATE INDEX ix_case_open ON service_case \
             (term_due_at, registered_at, region_code, service_code, provider_id, channel) \
             WHERE result_at IS NULL AND status <> 'REFUSED_AT_INTAKE'",
        )
        .await?;
        let backend = manager.get_database_backend();
        db.execute_unprepared(&backfill(backend)).await?;
        db.execute_unprepared(&backfill_steps(backend)).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX ix_case_open")
            .await?;
        manager
            .drop_table(Table::drop().table(StepRollup::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(ReportRollup::Table).to_owned())
            .await
    }
}

/// Folds the cases that exist into the rollup. A frozen copy of what the case store maintains
/// (`api::store::rollup`), so that this migration means the same thing forever.
fn backfill(backend: DatabaseBackend) -> String {
    let (month, day, tenths, t, f) = match backend {
        DatabaseBackend::Postgres => (
            "to_char((registered_at AT TIME ZONE 'UTC') + interval '5 hours', 'YYYY-MM')",
            "to_char((term_due_at AT TIME ZONE 'UTC') + interval '5 hours', 'YYYY-MM-DD')",
            "CAST(floor(result_working_days * 10 + 0.5) AS INTEGER)",
            "TRUE",
            "FALSE",
        ),
        _ => (
            "strftime('%Y-%m', registered_at, '+5 hours')",
            "strftime('%Y-%m-%d', term_due_at, '+5 hours')",
            "CAST(result_working_days * 10 + 0.5 AS INTEGER)",
            "1",
            "0",
        ),
    };
    let open = "status <> 'REFUSED_AT_INTAKE' AND result_at IS NULL";
    format!(
        "INSERT INTO report_rollup (month, region_code, service_code, provider_id, channel, tenths, \
         due_day, received, in_progress, completed, completed_on_time, completed_late, refused_at_intake, \
         refused_with_reasons, returned_unclaimed) \
         SELECT {month}, region_code, service_code, provider_id, channel, \
         COALESCE({tenths}, -1), \
         CASE WHEN {open} AND term_due_at IS NOT NULL THEN {day} ELSE '' END, COUNT(*), \
         SUM(CASE WHEN {open} THEN 1 ELSE 0 END), \
         SUM(CASE WHEN result_at IS NOT NULL AND refusal_prepared = {f} THEN 1 ELSE 0 END), \
         SUM(CASE WHEN result_at IS NOT NULL AND refusal_prepared = {f} AND result_on_time = {t} THEN 1 ELSE 0 END), \
         SUM(CASE WHEN result_at IS NOT NULL AND refusal_prepared = {f} AND result_on_time = {f} THEN 1 ELSE 0 END), \
         SUM(CASE WHEN status = 'REFUSED_AT_INTAKE' THEN 1 ELSE 0 END), \
         SUM(CASE WHEN result_at IS NOT NULL AND refusal_prepared = {t} THEN 1 ELSE 0 END), \
         SUM(CASE WHEN returned_unclaimed = {t} THEN 1 ELSE 0 END) \
         FROM service_case GROUP BY 1, 2, 3, 4, 5, 6, 7"
    )
}

/// Folds the finished steps into the step rollup (frozen, as [`backfill`]).
fn backfill_steps(backend: DatabaseBackend) -> String {
    let (month, bucket, f) = match backend {
        DatabaseBackend::Postgres => (
            "to_char((c.registered_at AT TIME ZONE 'UTC') + interval '5 hours', 'YYYY-MM')",
            "CAST(floor(CAST(s.used_minutes AS DOUBLE PRECISION) / s.allowed_minutes * 100 + 0.5) AS BIGINT)",
            "FALSE",
        ),
        _ => (
            "strftime('%Y-%m', c.registered_at, '+5 hours')",
            "CAST(CAST(s.used_minutes AS REAL) / s.allowed_minutes * 100 + 0.5 AS INTEGER)",
            "0",
        ),
    };
    format!(
        "INSERT INTO step_rollup (month, region_code, service_code, provider_id, channel, mailbox, \
         stage, share_bucket, steps, late) \
         SELECT {month}, c.region_code, c.service_code, c.provider_id, c.channel, s.mailbox, s.stage, \
         {bucket}, COUNT(*), SUM(CASE WHEN s.on_time = {f} THEN 1 ELSE 0 END) \
         FROM case_step s JOIN service_case c ON c.id = s.case_id \
         WHERE s.finished_at IS NOT NULL AND s.allowed_minutes > 0 AND s.used_minutes IS NOT NULL \
         GROUP BY 1, 2, 3, 4, 5, 6, 7, 8"
    )
}
