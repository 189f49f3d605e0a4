//! Reports by region: SLA compliance per group, where the time goes per mailbox and step,
//! overdue and at-risk cases. Aggregation runs in the database over indexed columns; months are
//! in Kazakhstan time (UTC+5).
//!
//! Definitions (also in the README):
//! - received: cases registered in the period (every channel, refusals included);
//! - in progress: neither refused at intake nor delivered yet;
//! - completed: a result delivered (issued at the office or on the portal, or arrived at the
//!   State Corporation counter), split into on time / late against the legal result date;
//! - refused at intake / refused with reasons: refusal receipts / delivered reasoned refusals;
//! - returned unclaimed: results that went back to the provider after storage;
//! - overdue now: in progress and past the legal result date;
//! - on-time rate: completed on time / completed;
//! - median and 90th percentile: working days from registration to delivery, over results and
//!   reasoned refusals (linear interpolation, as PostgreSQL's `percentile_cont`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement, Value};

use crate::error::ApiError;

/// A grouping key of reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Group {
    /// By region.
    Region,
    /// By service.
    Service,
    /// By provider.
    Provider,
    /// By channel.
    Channel,
    /// By month of registration (UTC+5).
    Month,
}

impl Group {
    fn column(self, backend: DatabaseBackend, table: &str) -> String {
        match self {
            Group::Region => format!("{table}.region_code"),
            Group::Service => format!("{table}.service_code"),
            Group::Provider => format!("{table}.provider_id"),
            Group::Channel => format!("{table}.channel"),
            Group::Month => match backend {
                DatabaseBackend::Postgres => {
                    format!("to_char(({table}.registered_at AT TIME ZONE 'UTC') + interval '5 hours', 'YYYY-MM')")
                }
                _ => format!("strftime('%Y-%m', {table}.registered_at, '+5 hours')"),
            },
        }
    }
}

/// What to report on. `regions: None` means every region the caller may see.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Regions (already intersected with the caller's scope).
    pub regions: Option<Vec<String>>,
    /// Services.
    pub services: Option<Vec<String>>,
    /// Provider ids.
    pub providers: Option<Vec<i64>>,
    /// Channels (stored names).
    pub channels: Option<Vec<String>>,
    /// Registered at or after.
    pub from: Option<DateTime<Utc>>,
    /// Registered before.
    pub to: Option<DateTime<Utc>>,
}

/// The values of the grouping keys of a row (absent when not grouped by).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Keys {
    /// Region code.
    pub region: Option<String>,
    /// Service code.
    pub service: Option<String>,
    /// Provider id.
    pub provider: Option<i64>,
    /// Channel.
    pub channel: Option<String>,
    /// Month, `YYYY-MM`.
    pub month: Option<String>,
}

/// One row of the SLA report.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReportRow {
    /// Group keys.
    pub keys: Keys,
    /// Registered in the period.
    pub received: i64,
    /// Not refused at intake, not delivered yet.
    pub in_progress: i64,
    /// Results delivered.
    pub completed: i64,
    /// Of which by the legal result date.
    pub completed_on_time: i64,
    /// Of which after it.
    pub completed_late: i64,
    /// Refusal receipts at intake.
    pub refused_at_intake: i64,
    /// Reasoned refusals delivered.
    pub refused_with_reasons: i64,
    /// Results returned to the provider unclaimed.
    pub returned_unclaimed: i64,
    /// In progress and past the legal result date.
    pub overdue_now: i64,
    /// Median working days from registration to delivery.
    pub median_working_days: Option<f64>,
    /// 90th percentile of the same.
    pub p90_working_days: Option<f64>,
}

impl ReportRow {
    /// Completed on time / completed.
    pub fn on_time_rate(&self) -> Option<f64> {
        (self.completed > 0).then(|| self.completed_on_time as f64 / self.completed as f64)
    }
}

/// One row of the step-compliance report.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StepRow {
    /// Group keys.
    pub keys: Keys,
    /// The mailbox.
    pub mailbox: String,
    /// The stage (what the step does).
    pub stage: String,
    /// Finished steps.
    pub steps: i64,
    /// Of which late.
    pub late: i64,
    /// Median share of the allowed working time used.
    pub median_share_used: Option<f64>,
    /// 90th percentile of the same.
    pub p90_share_used: Option<f64>,
}

struct Sql {
    text: String,
    values: Vec<Value>,
    backend: DatabaseBackend,
}

impl Sql {
    fn param(&mut self, v: Value) -> String {
        self.values.push(v);
        match self.backend {
            DatabaseBackend::Postgres => format!("${}", self.values.len()),
            _ => "?".to_owned(),
        }
    }

    fn time(&mut self, t: DateTime<Utc>) -> String {
        // SQLite keeps instants as RFC 3339 text; compare text with text of the same shape.
        let v = match self.backend {
            DatabaseBackend::Postgres => Value::from(t),
            _ => Value::from(t.to_rfc3339()),
        };
        self.param(v)
    }

    fn list<T: Into<Value> + Clone>(&mut self, items: &[T]) -> String {
        if items.is_empty() {
            return "NULL".to_owned();
        }
        items
            .iter()
            .map(|i| self.param(i.clone().into()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn filter_sql(sql: &mut Sql, f: &Filter, t: &str) -> String {
    let mut w = vec!["1 = 1".to_owned()];
    if let Some(from) = f.from {
        let p = sql.time(from);
        w.push(format!("{t}.registered_at >= {p}"));
    }
    if let Some(to) = f.to {
        let p = sql.time(to);
        w.push(format!("{t}.registered_at < {p}"));
    }
    if let Some(r) = &f.regions {
        let p = sql.list(r);
        w.push(format!("{t}.region_code IN ({p})"));
    }
    if let Some(s) = &f.services {
        let p = sql.list(s);
        w.push(format!("{t}.service_code IN ({p})"));
    }
    if let Some(pr) = &f.providers {
        let p = sql.list(pr);
        w.push(format!("{t}.provider_id IN ({p})"));
    }
    if let Some(c) = &f.channels {
        let p = sql.list(c);
        w.push(format!("{t}.channel IN ({p})"));
    }
    w.join(" AND ")
}

fn keys_of(row: &sea_orm::QueryResult, groups: &[Group]) -> Result<Keys, ApiError> {
    let mut k = Keys::default();
    for (i, g) in groups.iter().enumerate() {
        let col = format!("g{i}");
        match g {
            Group::Region => k.region = row.try_get("", &col)?,
            Group::Service => k.service = row.try_get("", &col)?,
            Group::Provider => k.provider = row.try_get("", &col)?,
            Group::Channel => k.channel = row.try_get("", &col)?,
            Group::Month => k.month = row.try_get("", &col)?,
        }
    }
    Ok(k)
}

/// Linear-interpolation percentile of sorted values, as `percentile_cont`.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let pos = p * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let frac = pos - lo as f64;
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * frac)
}

/// Median and 90th percentile of unsorted values (sorts them).
fn median_p90(values: &mut [f64]) -> (Option<f64>, Option<f64>) {
    values.sort_by(f64::total_cmp);
    (percentile(values, 0.5), percentile(values, 0.9))
}

fn int(row: &sea_orm::QueryResult, col: &str) -> Result<i64, ApiError> {
    // SUM over no rows is NULL; PostgreSQL's SUM of integers is numeric, so cast in SQL.
    Ok(row.try_get::<Option<i64>>("", col)?.unwrap_or(0))
}

/// The SLA report.
pub async fn report(
    db: &impl ConnectionTrait,
    filter: &Filter,
    groups: &[Group],
    now: DateTime<Utc>,
) -> Result<Vec<ReportRow>, ApiError> {
    let backend = db.get_database_backend();
    let pg = backend == DatabaseBackend::Postgres;
    let mut sql = Sql {
        text: String::new(),
        values: Vec::new(),
        backend,
    };
    let cols: Vec<String> = groups.iter().map(|g| g.column(backend, "c")).collect();
    let select_keys: String = cols
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} AS g{i}, "))
        .collect();
    let now_p = sql.time(now);
    let where_sql = filter_sql(&mut sql, filter, "c");
    let (t, f) = if pg { ("TRUE", "FALSE") } else { ("1", "0") };
    let percentiles = if pg {
        "percentile_cont(0.5) WITHIN GROUP (ORDER BY c.result_working_days) AS median, \
         percentile_cont(0.9) WITHIN GROUP (ORDER BY c.result_working_days) AS p90"
    } else {
        "NULL AS median, NULL AS p90"
    };
    let group_by = if cols.is_empty() {
        String::new()
    } else {
        format!(" GROUP BY {0} ORDER BY {0}", cols.join(", "))
    };
    sql.text = format!(
        "SELECT {select_keys}\
         CAST(COUNT(*) AS BIGINT) AS received, \
         CAST(SUM(CASE WHEN c.status <> 'REFUSED_AT_INTAKE' AND c.result_at IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS in_progress, \
         CAST(SUM(CASE WHEN c.result_at IS NOT NULL AND c.refusal_prepared = {f} THEN 1 ELSE 0 END) AS BIGINT) AS completed, \
         CAST(SUM(CASE WHEN c.result_at IS NOT NULL AND c.refusal_prepared = {f} AND c.result_on_time = {t} THEN 1 ELSE 0 END) AS BIGINT) AS completed_on_time, \
         CAST(SUM(CASE WHEN c.result_at IS NOT NULL AND c.refusal_prepared = {f} AND c.result_on_time = {f} THEN 1 ELSE 0 END) AS BIGINT) AS completed_late, \
         CAST(SUM(CASE WHEN c.status = 'REFUSED_AT_INTAKE' THEN 1 ELSE 0 END) AS BIGINT) AS refused_at_intake, \
         CAST(SUM(CASE WHEN c.result_at IS NOT NULL AND c.refusal_prepared = {t} THEN 1 ELSE 0 END) AS BIGINT) AS refused_with_reasons, \
         CAST(SUM(CASE WHEN c.returned_unclaimed = {t} THEN 1 ELSE 0 END) AS BIGINT) AS returned_unclaimed, \
         CAST(SUM(CASE WHEN c.status <> 'REFUSED_AT_INTAKE' AND c.result_at IS NULL AND c.term_due_at < {now_p} THEN 1 ELSE 0 END) AS BIGINT) AS overdue_now, \
         {percentiles} \
         FROM service_case c WHERE {where_sql}{group_by}"
    );
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            sql.text.clone(),
            sql.values.clone(),
        ))
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        if int(row, "received")? == 0 {
            continue; // no group at all: an empty period gives no rows
        }
        out.push(ReportRow {
            keys: keys_of(row, groups)?,
            received: int(row, "received")?,
            in_progress: int(row, "in_progress")?,
            completed: int(row, "completed")?,
            completed_on_time: int(row, "completed_on_time")?,
            completed_late: int(row, "completed_late")?,
            refused_at_intake: int(row, "refused_at_intake")?,
            refused_with_reasons: int(row, "refused_with_reasons")?,
            returned_unclaimed: int(row, "returned_unclaimed")?,
            overdue_now: int(row, "overdue_now")?,
            median_working_days: if pg { row.try_get("", "median")? } else { None },
            p90_working_days: if pg { row.try_get("", "p90")? } else { None },
        });
    }
    if !pg {
        // SQLite has no percentile function: read the delivered durations per group.
        let mut s = Sql {
            text: String::new(),
            values: Vec::new(),
            backend,
        };
        let where_sql = filter_sql(&mut s, filter, "c");
        s.text = format!(
            "SELECT {select_keys}c.result_working_days AS d FROM service_case c \
             WHERE {where_sql} AND c.result_working_days IS NOT NULL"
        );
        let values = db
            .query_all_raw(Statement::from_sql_and_values(backend, s.text, s.values))
            .await?;
        let mut by_group: BTreeMap<Keys, Vec<f64>> = BTreeMap::new();
        for v in &values {
            by_group
                .entry(keys_of(v, groups)?)
                .or_default()
                .push(v.try_get("", "d")?);
        }
        for r in &mut out {
            if let Some(ds) = by_group.get_mut(&r.keys) {
                (r.median_working_days, r.p90_working_days) = median_p90(ds);
            }
        }
    }
    Ok(out)
}

/// Step compliance: per mailbox and stage (and the groups), finished steps, late ones, and the
/// share of the allowed working time used.
pub async fn step_compliance(
    db: &impl ConnectionTrait,
    filter: &Filter,
    groups: &[Group],
) -> Result<Vec<StepRow>, ApiError> {
    let backend = db.get_database_backend();
    let pg = backend == DatabaseBackend::Postgres;
    let mut sql = Sql {
        text: String::new(),
        values: Vec::new(),
        backend,
    };
    let cols: Vec<String> = groups.iter().map(|g| g.column(backend, "c")).collect();
    let select_keys: String = cols
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} AS g{i}, "))
        .collect();
    let where_sql = filter_sql(&mut sql, filter, "c");
    let f = if pg { "FALSE" } else { "0" };
    let share = "CAST(s.used_minutes AS DOUBLE PRECISION) / s.allowed_minutes";
    let percentiles = if pg {
        format!("percentile_cont(0.5) WITHIN GROUP (ORDER BY {share}) AS median, percentile_cont(0.9) WITHIN GROUP (ORDER BY {share}) AS p90")
    } else {
        "NULL AS median, NULL AS p90".to_owned()
    };
    let mut all_cols = vec!["s.mailbox".to_owned(), "s.stage".to_owned()];
    all_cols.extend(cols.iter().cloned());
    let step_where = format!(
        "s.finished_at IS NOT NULL AND s.allowed_minutes > 0 AND s.used_minutes IS NOT NULL AND {where_sql}"
    );
    sql.text = format!(
        "SELECT {select_keys}s.mailbox AS mailbox, s.stage AS stage, \
         CAST(COUNT(*) AS BIGINT) AS steps, \
         CAST(SUM(CASE WHEN s.on_time = {f} THEN 1 ELSE 0 END) AS BIGINT) AS late, {percentiles} \
         FROM case_step s JOIN service_case c ON c.id = s.case_id \
         WHERE {step_where} GROUP BY {0} ORDER BY {0}",
        all_cols.join(", ")
    );
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            sql.text.clone(),
            sql.values.clone(),
        ))
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        out.push(StepRow {
            keys: keys_of(row, groups)?,
            mailbox: row.try_get("", "mailbox")?,
            stage: row.try_get("", "stage")?,
            steps: int(row, "steps")?,
            late: int(row, "late")?,
            median_share_used: if pg { row.try_get("", "median")? } else { None },
            p90_share_used: if pg { row.try_get("", "p90")? } else { None },
        });
    }
    if !pg {
        let mut s = Sql {
            text: String::new(),
            values: Vec::new(),
            backend,
        };
        let where_sql = filter_sql(&mut s, filter, "c");
        s.text = format!(
            "SELECT {select_keys}s.mailbox AS mailbox, s.stage AS stage, {share} AS d \
             FROM case_step s JOIN service_case c ON c.id = s.case_id \
             WHERE s.finished_at IS NOT NULL AND s.allowed_minutes > 0 AND s.used_minutes IS NOT NULL AND {where_sql}"
        );
        let values = db
            .query_all_raw(Statement::from_sql_and_values(backend, s.text, s.values))
            .await?;
        let mut by: BTreeMap<(Keys, String, String), Vec<f64>> = BTreeMap::new();
        for v in &values {
            let key = (
                keys_of(v, groups)?,
                v.try_get("", "mailbox")?,
                v.try_get("", "stage")?,
            );
            by.entry(key).or_default().push(v.try_get("", "d")?);
        }
        for r in &mut out {
            if let Some(ds) = by.get_mut(&(r.keys.clone(), r.mailbox.clone(), r.stage.clone())) {
                (r.median_share_used, r.p90_share_used) = median_p90(ds);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentiles_interpolate_like_percentile_cont() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile(&v, 0.5), Some(2.5));
        assert!(percentile(&v, 0.9).is_some_and(|p| (p - 3.7).abs() < 1e-12));
        assert_eq!(percentile(&[5.0], 0.9), Some(5.0));
        assert_eq!(percentile(&[], 0.5), None);
    }
}
