//! Report totals maintained in the same transaction as every case change.
//!
//! Every case counts in exactly one row of `report_rollup`, keyed by its registration month
//! (UTC+5), region, service, provider, channel, duration bucket and — while it is in progress —
//! the day (UTC+5) its legal term ends, so that "overdue now" is a sum over the rows whose day
//! has passed. When a case changes, its old
//! contribution is taken out of its old row and the new one added to its new row, with an upsert
//! that adds deltas, so concurrent transactions never overwrite each other's counts.
//!
//! The duration bucket is the working days from registration to delivery in tenths, rounded half
//! up (`floor(d × 10 + 0.5)`); −1 for a case without one (in progress, refused at intake). Reports
//! compute their percentiles over these tenths, which is what lets a year of a million cases be
//! answered from a few thousand rows.

use chrono::{DateTime, Duration, Utc};
use entity::service_case;
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement, Value};

use crate::error::ApiError;

/// Kazakhstan's single time zone since 1 March 2024; reports count months in it.
pub const REPORT_OFFSET_HOURS: i64 = 5;

/// The rollup row a case counts in.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RollupKey {
    /// Registration month `YYYY-MM` (UTC+5).
    pub month: String,
    /// Region code.
    pub region: String,
    /// Service code.
    pub service: String,
    /// Provider id.
    pub provider: i64,
    /// Channel (stored name).
    pub channel: String,
    /// Working days to delivery in tenths, −1 for none.
    pub tenths: i32,
    /// In progress: the day `YYYY-MM-DD` (UTC+5) the legal term ends; empty otherwise.
    pub due_day: String,
}

/// What one case adds to its row (each 0 or 1; as deltas also −1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Registered.
    pub received: i32,
    /// Neither refused at intake nor delivered.
    pub in_progress: i32,
    /// Result delivered.
    pub completed: i32,
    /// Delivered by the legal result date.
    pub completed_on_time: i32,
    /// Delivered after it.
    pub completed_late: i32,
    /// Refusal receipt at intake.
    pub refused_at_intake: i32,
    /// Reasoned refusal delivered.
    pub refused_with_reasons: i32,
    /// Result returned to the provider unclaimed.
    pub returned_unclaimed: i32,
}

impl Counts {
    fn fields(&self) -> [i32; 8] {
        [
            self.received,
            self.in_progress,
            self.completed,
            self.completed_on_time,
            self.completed_late,
            self.refused_at_intake,
            self.refused_with_reasons,
            self.returned_unclaimed,
        ]
    }

    fn minus(&self, other: &Counts) -> Counts {
        Counts {
            received: self.received - other.received,
            in_progress: self.in_progress - other.in_progress,
            completed: self.completed - other.completed,
            completed_on_time: self.completed_on_time - other.completed_on_time,
            completed_late: self.completed_late - other.completed_late,
            refused_at_intake: self.refused_at_intake - other.refused_at_intake,
            refused_with_reasons: self.refused_with_reasons - other.refused_with_reasons,
            returned_unclaimed: self.returned_unclaimed - other.returned_unclaimed,
        }
    }

    fn negated(&self) -> Counts {
        Counts::default().minus(self)
    }

    fn is_zero(&self) -> bool {
        self.fields().iter().all(|v| *v == 0)
    }
}

/// The registration month of an instant, `YYYY-MM` in UTC+5.
pub fn month_of(at: DateTime<Utc>) -> String {
    (at + Duration::hours(REPORT_OFFSET_HOURS))
        .format("%Y-%m")
        .to_string()
}

/// The day of an instant, `YYYY-MM-DD` in UTC+5.
pub fn day_of(at: DateTime<Utc>) -> String {
    (at + Duration::hours(REPORT_OFFSET_HOURS))
        .format("%Y-%m-%d")
        .to_string()
}

/// The month (`YYYY-MM`) or day (`YYYY-MM-DD`) of the instant column `col` in UTC+5, in SQL: the
/// same keys as [`month_of`] and [`day_of`], for the rollups and the reports' raw rows alike.
pub fn local_sql(backend: DatabaseBackend, col: &str, day: bool) -> String {
    match (backend, day) {
        (DatabaseBackend::Postgres, false) => {
            format!("to_char(({col} AT TIME ZONE 'UTC') + interval '5 hours', 'YYYY-MM')")
        }
        (DatabaseBackend::Postgres, true) => {
            format!("to_char(({col} AT TIME ZONE 'UTC') + interval '5 hours', 'YYYY-MM-DD')")
        }
        (_, false) => format!("strftime('%Y-%m', {col}, '+5 hours')"),
        (_, true) => format!("strftime('%Y-%m-%d', {col}, '+5 hours')"),
    }
}

/// Kazakhstan's offset, in which reports count months and days.
pub fn report_offset() -> Option<chrono::FixedOffset> {
    chrono::FixedOffset::east_opt((REPORT_OFFSET_HOURS * 3600) as i32)
}

/// Working days in tenths, rounded half up; the same arithmetic as the SQL in
/// [`tenths_sql`] (multiply, add, floor on doubles), so both give the same bucket.
pub fn tenths(working_days: f64) -> i32 {
    (working_days * 10.0 + 0.5).floor() as i32
}

/// The SQL for [`tenths`] of `col`, −1 when it is NULL.
pub fn tenths_sql(backend: DatabaseBackend, col: &str) -> String {
    match backend {
        DatabaseBackend::Postgres => {
            format!("COALESCE(CAST(floor({col} * 10 + 0.5) AS INTEGER), -1)")
        }
        // Durations are never negative, and CAST truncates: floor.
        _ => format!("COALESCE(CAST({col} * 10 + 0.5 AS INTEGER), -1)"),
    }
}

/// Where a case counts and what it adds.
pub fn contribution(c: &service_case::Model) -> (RollupKey, Counts) {
    let refused_at_intake = c.status == "REFUSED_AT_INTAKE";
    let delivered = c.result_at.is_some();
    let completed = delivered && !c.refusal_prepared;
    let flag = |b: bool| i32::from(b);
    let in_progress = !refused_at_intake && !delivered;
    (
        RollupKey {
            month: month_of(c.registered_at),
            region: c.region_code.clone(),
            service: c.service_code.clone(),
            provider: c.provider_id,
            channel: c.channel.clone(),
            tenths: c.result_working_days.map_or(-1, tenths),
            due_day: match c.term_due_at {
                Some(t) if in_progress => day_of(t),
                _ => String::new(),
            },
        },
        Counts {
            received: 1,
            in_progress: flag(in_progress),
            completed: flag(completed),
            completed_on_time: flag(completed && c.result_on_time == Some(true)),
            completed_late: flag(completed && c.result_on_time == Some(false)),
            refused_at_intake: flag(refused_at_intake),
            refused_with_reasons: flag(delivered && c.refusal_prepared),
            returned_unclaimed: flag(c.returned_unclaimed),
        },
    )
}

/// Moves a case's contribution from what it was (`None` for a new case) to what it is now.
/// Call it last in the transaction that changed the case: the rollup rows stay locked until
/// the commit.
pub async fn record(
    db: &impl ConnectionTrait,
    before: Option<&service_case::Model>,
    after: &service_case::Model,
) -> Result<(), ApiError> {
    let (key, now) = contribution(after);
    let mut deltas = match before.map(contribution) {
        None => vec![(key, now)],
        Some((old_key, old)) if old_key == key => vec![(key, now.minus(&old))],
        Some((old_key, old)) => vec![(old_key, old.negated()), (key, now)],
    };
    // Rows are always locked in key order, so two transactions never wait on each other in a
    // circle.
    deltas.sort_by(|a, b| a.0.cmp(&b.0));
    for (key, delta) in deltas.iter().filter(|(_, d)| !d.is_zero()) {
        add(db, key, delta).await?;
    }
    Ok(())
}

async fn add(db: &impl ConnectionTrait, key: &RollupKey, d: &Counts) -> Result<(), ApiError> {
    let backend = db.get_database_backend();
    // Numbered on both databases: sqlx binds SQLite's `$N` by its number.
    let placeholders: Vec<String> = (1..=15).map(|i| format!("${i}")).collect();
    let sql = format!(
        "INSERT INTO report_rollup (month, region_code, service_code, provider_id, channel, tenths, \
         due_day, received, in_progress, completed, completed_on_time, completed_late, refused_at_intake, \
         refused_with_reasons, returned_unclaimed) VALUES ({}) \
         ON CONFLICT (month, region_code, service_code, provider_id, channel, tenths, due_day) \
         DO UPDATE SET \
         received = report_rollup.received + excluded.received, \
         in_progress = report_rollup.in_progress + excluded.in_progress, \
         completed = report_rollup.completed + excluded.completed, \
         completed_on_time = report_rollup.completed_on_time + excluded.completed_on_time, \
         completed_late = report_rollup.completed_late + excluded.completed_late, \
         refused_at_intake = report_rollup.refused_at_intake + excluded.refused_at_intake, \
         refused_with_reasons = report_rollup.refused_with_reasons + excluded.refused_with_reasons, \
         returned_unclaimed = report_rollup.returned_unclaimed + excluded.returned_unclaimed",
        placeholders.join(", ")
    );
    let mut values: Vec<Value> = vec![
        key.month.clone().into(),
        key.region.clone().into(),
        key.service.clone().into(),
        key.provider.into(),
        key.channel.clone().into(),
        key.tenths.into(),
        key.due_day.clone().into(),
    ];
    values.extend(d.fields().iter().map(|v| Value::from(*v)));
    db.execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    Ok(())
}

/// Share of the allowed working time a finished step used, in hundredths rounded half up; the
/// same arithmetic as [`share_bucket_sql`]. `None` for steps that do not count (no allowance:
/// waiting for the applicant, storage).
pub fn share_bucket(used: Option<i64>, allowed: Option<i64>) -> Option<i64> {
    match (used, allowed) {
        (Some(used), Some(allowed)) if allowed > 0 => {
            Some((used as f64 / allowed as f64 * 100.0 + 0.5).floor() as i64)
        }
        _ => None,
    }
}

/// The SQL for [`share_bucket`] of the step `s`.
pub fn share_bucket_sql(backend: DatabaseBackend) -> &'static str {
    match backend {
        DatabaseBackend::Postgres => {
            "CAST(floor(CAST(s.used_minutes AS DOUBLE PRECISION) / s.allowed_minutes * 100 + 0.5) AS BIGINT)"
        }
        _ => "CAST(CAST(s.used_minutes AS REAL) / s.allowed_minutes * 100 + 0.5 AS INTEGER)",
    }
}

/// Counts a step that has just finished in the step rollup, under its case's keys. Call it in
/// the transaction that finished the step.
pub async fn record_step(
    db: &impl ConnectionTrait,
    case: &service_case::Model,
    step: &domain::engine::ClosedStep,
    mailbox: &str,
) -> Result<(), ApiError> {
    let Some(bucket) = share_bucket(step.used_minutes, step.allowed_minutes) else {
        return Ok(());
    };
    let backend = db.get_database_backend();
    let placeholders: Vec<String> = (1..=10).map(|i| format!("${i}")).collect();
    let sql = format!(
        "INSERT INTO step_rollup (month, region_code, service_code, provider_id, channel, mailbox, \
         stage, share_bucket, steps, late) VALUES ({}) \
         ON CONFLICT (month, region_code, service_code, provider_id, channel, mailbox, stage, share_bucket) \
         DO UPDATE SET steps = step_rollup.steps + excluded.steps, late = step_rollup.late + excluded.late",
        placeholders.join(", ")
    );
    let values: Vec<Value> = vec![
        month_of(case.registered_at).into(),
        case.region_code.clone().into(),
        case.service_code.clone().into(),
        case.provider_id.into(),
        case.channel.clone().into(),
        mailbox.into(),
        step.stage.as_str().into(),
        bucket.into(),
        1i32.into(),
        i32::from(step.on_time == Some(false)).into(),
    ];
    db.execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    Ok(())
}

/// Recomputes both rollups from the cases and steps, in one transaction of the caller's choosing:
/// after a bulk load (`qyzmet generate`), after cases were changed outside qyzmet
/// (`qyzmet rebuild-rollups`), or to check that the maintained rollups are right. Safe while the
/// server runs.
pub async fn rebuild(db: &impl ConnectionTrait) -> Result<u64, ApiError> {
    let backend = db.get_database_backend();
    let (t, f) = match backend {
        DatabaseBackend::Postgres => ("TRUE", "FALSE"),
        _ => ("1", "0"),
    };
    let month = local_sql(backend, "registered_at", false);
    let day = local_sql(backend, "term_due_at", true);
    let open = "status <> 'REFUSED_AT_INTAKE' AND result_at IS NULL";
    let tenths = tenths_sql(backend, "result_working_days");
    if backend == DatabaseBackend::Postgres {
        // Moves wait at their rollup write until this commits; a move already past it is waited
        // for here, so the recount below sees it. Either way each change is counted once.
        db.execute_unprepared("LOCK TABLE report_rollup, step_rollup IN EXCLUSIVE MODE")
            .await?;
    }
    db.execute_unprepared("DELETE FROM report_rollup").await?;
    let done = db
        .execute_unprepared(&format!(
            "INSERT INTO report_rollup (month, region_code, service_code, provider_id, channel, tenths, \
             due_day, received, in_progress, completed, completed_on_time, completed_late, refused_at_intake, \
             refused_with_reasons, returned_unclaimed) \
             SELECT {month}, region_code, service_code, provider_id, channel, {tenths}, \
             CASE WHEN {open} AND term_due_at IS NOT NULL THEN {day} ELSE '' END, COUNT(*), \
             SUM(CASE WHEN {open} THEN 1 ELSE 0 END), \
             SUM(CASE WHEN result_at IS NOT NULL AND refusal_prepared = {f} THEN 1 ELSE 0 END), \
             SUM(CASE WHEN result_at IS NOT NULL AND refusal_prepared = {f} AND result_on_time = {t} THEN 1 ELSE 0 END), \
             SUM(CASE WHEN result_at IS NOT NULL AND refusal_prepared = {f} AND result_on_time = {f} THEN 1 ELSE 0 END), \
             SUM(CASE WHEN status = 'REFUSED_AT_INTAKE' THEN 1 ELSE 0 END), \
             SUM(CASE WHEN result_at IS NOT NULL AND refusal_prepared = {t} THEN 1 ELSE 0 END), \
             SUM(CASE WHEN returned_unclaimed = {t} THEN 1 ELSE 0 END) \
             FROM service_case GROUP BY 1, 2, 3, 4, 5, 6, 7"
        ))
        .await?;
    let step_month = local_sql(backend, "c.registered_at", false);
    let bucket = share_bucket_sql(backend);
    db.execute_unprepared("DELETE FROM step_rollup").await?;
    let steps = db
        .execute_unprepared(&format!(
            "INSERT INTO step_rollup (month, region_code, service_code, provider_id, channel, mailbox, \
             stage, share_bucket, steps, late) \
             SELECT {step_month}, c.region_code, c.service_code, c.provider_id, c.channel, s.mailbox, \
             s.stage, {bucket}, COUNT(*), SUM(CASE WHEN s.on_time = {f} THEN 1 ELSE 0 END) \
             FROM case_step s JOIN service_case c ON c.id = s.case_id \
             WHERE s.finished_at IS NOT NULL AND s.allowed_minutes > 0 AND s.used_minutes IS NOT NULL \
             GROUP BY 1, 2, 3, 4, 5, 6, 7, 8"
        ))
        .await?;
    Ok(done.rows_affected() + steps.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenths_round_half_up() {
        assert_eq!(tenths(0.0), 0);
        assert_eq!(tenths(0.5625), 6);
        assert_eq!(tenths(1.6875), 17);
        assert_eq!(tenths(6.875), 69);
        assert_eq!(tenths(1.04), 10);
        assert_eq!(tenths(1.05), 11);
    }

    #[test]
    fn months_are_counted_in_utc_plus_5() {
        let at = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .map(|d| d.with_timezone(&Utc))
                .unwrap_or_default()
        };
        assert_eq!(month_of(at("2025-06-30T18:59:59Z")), "2025-06");
        assert_eq!(month_of(at("2025-06-30T19:00:00Z")), "2025-07");
    }
}
