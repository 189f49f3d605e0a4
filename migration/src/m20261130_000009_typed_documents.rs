//! Typed legal documents and strict intake: the provider's registration of a portal or State
//! Corporation application is a record of its own (the receipt is never rewritten); a
//! fingerprint of the application makes a reused idempotency key with a different application
//! an error; waiting at the counter is no staff step (results awaiting collection are counted
//! by migration 10).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ServiceCase {
    Table,
    Registration,
    RequestHash,
    StepDueAt,
    Stage,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        for col in [
            ColumnDef::new(ServiceCase::Registration).text().to_owned(),
            ColumnDef::new(ServiceCase::RequestHash).string().to_owned(),
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
        let db = manager.get_connection();
        // Waiting for the applicant is not staff time: a result at the counter has no step due
        // time (its end of storage stays on the case), never counts as late, and is not in
        // the step rollup (which counts only steps with an allowance, as a rebuild would).
        db.execute_unprepared(
            "UPDATE case_step SET due_at = NULL, allowed_minutes = NULL, risk_at = NULL, \
             on_time = NULL WHERE stage = 'CORPORATION_ISSUE'",
        )
        .await?;
        db.execute_unprepared("DELETE FROM step_rollup WHERE stage = 'CORPORATION_ISSUE'")
            .await?;
        // The case sorts last in its inbox and is never overdue: the placeholder due time the
        // store gives stops without a staff deadline (9999-12-31), bound as a value so that each
        // database stores it in its own format.
        let far = sea_orm::prelude::ChronoDateTimeUtc::from_timestamp(253_402_214_400, 0)
            .ok_or_else(|| DbErr::Custom("far-future placeholder".into()))?;
        manager
            .exec_stmt(
                Query::update()
                    .table(ServiceCase::Table)
                    .value(ServiceCase::StepDueAt, far)
                    .and_where(Expr::col(ServiceCase::Stage).eq("CORPORATION_ISSUE"))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for col in [ServiceCase::Registration, ServiceCase::RequestHash] {
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
