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
use domain::case::CaseStatus;
use domain::report::{self, CaseFacts, Cond, Fact, Measure, MEASURES};
use entity::service_case;
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement, Value};

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

/// What one case adds to its row: one number per [`Measure`], in [`MEASURES`] order (each 0
/// or 1; as deltas also −1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts(pub [i32; MEASURES.len()]);

impl Counts {
    /// The count of one measure.
    pub fn get(&self, m: Measure) -> i32 {
        MEASURES
            .iter()
            .position(|x| *x == m)
            .map_or(0, |i| self.0[i])
    }

    fn minus(&self, other: &Counts) -> Counts {
        Counts(std::array::from_fn(|i| self.0[i] - other.0[i]))
    }

    fn negated(&self) -> Counts {
        Counts::default().minus(self)
    }

    fn is_zero(&self) -> bool {
        self.0.iter().all(|v| *v == 0)
    }
}

/// A stored case's facts, as the report's counting rules see them.
pub fn facts(c: &service_case::Model) -> Result<CaseFacts, ApiError> {
    Ok(CaseFacts {
        status: CaseStatus::parse(&c.status).ok_or_else(|| {
            ApiError::internal(std::io::Error::other("stored case has a bad status"))
        })?,
        delivered: c.result_at.is_some(),
        refusal_prepared: c.refusal_prepared,
        on_time: c.result_at.and(c.result_on_time),
        returned_unclaimed: c.returned_unclaimed,
    })
}

/// A counting rule in SQL over the case columns, `t` the table's alias with its dot (`"c."`)
/// or empty. The same rule as [`Cond::holds`] on the same facts (see [`facts`]); the open
/// cases' rule renders exactly as the partial index `ix_case_open` is declared.
pub fn cond_sql(c: &Cond, backend: DatabaseBackend, t: &str) -> String {
    let (yes, no) = booleans(backend);
    match c {
        Cond::Always => "1 = 1".into(),
        Cond::Status([one]) => format!("{t}status = '{}'", one.as_str()),
        Cond::Status(many) => format!(
            "{t}status IN ({})",
            many.iter()
                .map(|s| format!("'{}'", s.as_str()))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Cond::Not(Cond::Status([one])) => format!("{t}status <> '{}'", one.as_str()),
        Cond::Not(Cond::Is(Fact::Delivered)) => format!("{t}result_at IS NULL"),
        Cond::Is(Fact::Delivered) => format!("{t}result_at IS NOT NULL"),
        Cond::Is(Fact::RefusalPrepared) => format!("{t}refusal_prepared = {yes}"),
        Cond::Not(Cond::Is(Fact::RefusalPrepared)) => format!("{t}refusal_prepared = {no}"),
        Cond::Is(Fact::OnTime) => {
            format!("{t}result_at IS NOT NULL AND {t}result_on_time = {yes}")
        }
        Cond::Is(Fact::Late) => format!("{t}result_at IS NOT NULL AND {t}result_on_time = {no}"),
        Cond::Is(Fact::ReturnedUnclaimed) => format!("{t}returned_unclaimed = {yes}"),
        Cond::Not(c) => format!("NOT ({})", cond_sql(c, backend, t)),
        Cond::All(cs) => cs
            .iter()
            .map(|c| cond_sql(c, backend, t))
            .collect::<Vec<_>>()
            .join(" AND "),
    }
}

/// Boolean literals.
pub fn booleans(backend: DatabaseBackend) -> (&'static str, &'static str) {
    match backend {
        DatabaseBackend::Postgres => ("TRUE", "FALSE"),
        _ => ("1", "0"),
    }
}

/// `SUM(CASE WHEN <rule> THEN 1 ELSE 0 END)` for every measure, each named by its column: the
/// counts of a group of cases (`t` as in [`cond_sql`]).
pub fn measure_sums_sql(backend: DatabaseBackend, t: &str) -> Vec<String> {
    MEASURES
        .iter()
        .map(|m| match m.rule() {
            Cond::Always => format!("CAST(COUNT(*) AS BIGINT) AS {}", m.column()),
            rule => format!(
                "CAST(SUM(CASE WHEN {} THEN 1 ELSE 0 END) AS BIGINT) AS {}",
                cond_sql(rule, backend, t),
                m.column()
            ),
        })
        .collect()
}

/// The rollup's measure columns, comma separated.
pub fn measure_columns() -> String {
    MEASURES
        .iter()
        .map(|m| m.column())
        .collect::<Vec<_>>()
        .join(", ")
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
pub fn contribution(c: &service_case::Model) -> Result<(RollupKey, Counts), ApiError> {
    let f = facts(c)?;
    Ok((
        RollupKey {
            month: month_of(c.registered_at),
            region: c.region_code.clone(),
            service: c.service_code.clone(),
            provider: c.provider_id,
            channel: c.channel.clone(),
            tenths: c.result_working_days.map_or(-1, tenths),
            due_day: match c.term_due_at {
                Some(t) if report::open(&f) => day_of(t),
                _ => String::new(),
            },
        },
        Counts(MEASURES.map(|m| i32::from(m.counts(&f)))),
    ))
}

/// Moves a case's contribution from what it was (`None` for a new case) to what it is now.
/// Call it last in the transaction that changed the case: the rollup rows stay locked until
/// the commit.
pub async fn record(
    db: &impl ConnectionTrait,
    before: Option<&service_case::Model>,
    after: &service_case::Model,
) -> Result<(), ApiError> {
    let (key, now) = contribution(after)?;
    let mut deltas = match before.map(contribution).transpose()? {
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
    let placeholders: Vec<String> = (1..=7 + MEASURES.len()).map(|i| format!("${i}")).collect();
    let sums: Vec<String> = MEASURES
        .iter()
        .map(|m| format!("{0} = report_rollup.{0} + excluded.{0}", m.column()))
        .collect();
    let sql = format!(
        "INSERT INTO report_rollup (month, region_code, service_code, provider_id, channel, tenths, \
         due_day, {}) VALUES ({}) \
         ON CONFLICT (month, region_code, service_code, provider_id, channel, tenths, due_day) \
         DO UPDATE SET {}",
        measure_columns(),
        placeholders.join(", "),
        sums.join(", ")
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
    values.extend(d.0.iter().map(|v| Value::from(*v)));
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

/// The version of the counting rules ([`domain::report`]). Bump it when a rule or a measure
/// changes: every database's rollups are then recomputed at the server's next start.
pub const RULES_VERSION: i32 = 2;

/// Recomputes the rollups if they were computed with other counting rules than the code's (or
/// never recorded: a database from before migration 10). Returns whether it did.
pub async fn ensure_current(db: &DatabaseConnection) -> Result<bool, ApiError> {
    let backend = db.get_database_backend();
    let stored = db
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT version FROM rollup_rules WHERE id = 1",
        ))
        .await?
        .map(|r| r.try_get::<i32>("", "version"))
        .transpose()?;
    if stored == Some(RULES_VERSION) {
        return Ok(false);
    }
    let txn = crate::store::begin_write(db).await?;
    rebuild(&txn).await?;
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        "INSERT INTO rollup_rules (id, version) VALUES (1, $1) \
         ON CONFLICT (id) DO UPDATE SET version = excluded.version",
        [RULES_VERSION.into()],
    ))
    .await?;
    txn.commit().await?;
    Ok(true)
}

/// Recomputes both rollups from the cases and steps, in one transaction of the caller's choosing:
/// after a bulk load (`qyzmet generate`), after cases were changed outside qyzmet
/// (`qyzmet rebuild-rollups`), or to check that the maintained rollups are right. Safe while the
/// server runs.
pub async fn rebuild(db: &impl ConnectionTrait) -> Result<u64, ApiError> {
    let backend = db.get_database_backend();
    let (_, f) = booleans(backend);
    let month = local_sql(backend, "registered_at", false);
    let day = local_sql(backend, "term_due_at", true);
    let open = cond_sql(Measure::InProgress.rule(), backend, "");
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
             due_day, {}) \
             SELECT {month}, region_code, service_code, provider_id, channel, {tenths}, \
             CASE WHEN {open} AND term_due_at IS NOT NULL THEN {day} ELSE '' END, {} \
             FROM service_case GROUP BY 1, 2, 3, 4, 5, 6, 7",
            measure_columns(),
            measure_sums_sql(backend, "").join(", ")
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
