//! Reports by region: SLA compliance per group, where the time goes per mailbox and step,
//! overdue and at-risk cases. Months are in Kazakhstan time (UTC+5).
//!
//! The SLA report and step compliance read whole months of their period from the rollups
//! (`report_rollup`, `step_rollup`, kept in each case's transaction by [`super::rollup`]) and the
//! parts of months at either end from the cases and steps themselves; both kinds of branch yield
//! the same rows (keys, bucket, counts), which are added up here.
//!
//! Definitions (also in docs/cases-and-reports.md):
//! - received: cases registered in the period (every channel, refusals included);
//! - in progress: neither refused at intake nor delivered yet;
//! - completed: a result delivered (issued at the office or on the portal, or arrived at the
//!   State Corporation counter), split into on time / late against the legal result date;
//! - refused at intake / refused with reasons: refusal receipts / delivered reasoned refusals;
//! - returned unclaimed: results that went back to the provider after storage;
//! - overdue now: in progress and past the legal result date;
//! - on-time rate: completed on time / completed;
//! - median and 90th percentile: working days from registration to delivery, over results and
//!   reasoned refusals, each counted in tenths of a working day (half up), interpolated linearly
//!   as PostgreSQL's `percentile_cont`; shares of a step's allowed time likewise in hundredths.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, TimeZone, Utc};
use domain::report::{Measure, MEASURES};
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement, Value};

use crate::error::ApiError;
use crate::store::rollup;

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
    fn rollup_column(self) -> String {
        match self {
            Group::Region => "r.region_code",
            Group::Service => "r.service_code",
            Group::Provider => "r.provider_id",
            Group::Channel => "r.channel",
            Group::Month => "r.month",
        }
        .to_owned()
    }

    fn column(self, backend: DatabaseBackend, table: &str) -> String {
        match self {
            Group::Region => format!("{table}.region_code"),
            Group::Service => format!("{table}.service_code"),
            Group::Provider => format!("{table}.provider_id"),
            Group::Channel => format!("{table}.channel"),
            Group::Month => {
                crate::store::rollup::local_sql(backend, &format!("{table}.registered_at"), false)
            }
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
    /// Results ready and not yet collected by the applicant.
    pub awaiting_collection: i64,
    /// In progress and past the legal result date.
    pub overdue_now: i64,
    /// Median working days from registration to delivery.
    pub median_working_days: Option<f64>,
    /// 90th percentile of the same.
    pub p90_working_days: Option<f64>,
}

impl ReportRow {
    /// Adds `n` to the count of `m`.
    pub fn add(&mut self, m: Measure, n: i64) {
        let field = match m {
            Measure::Received => &mut self.received,
            Measure::InProgress => &mut self.in_progress,
            Measure::Completed => &mut self.completed,
            Measure::CompletedOnTime => &mut self.completed_on_time,
            Measure::CompletedLate => &mut self.completed_late,
            Measure::RefusedAtIntake => &mut self.refused_at_intake,
            Measure::RefusedWithReasons => &mut self.refused_with_reasons,
            Measure::ReturnedUnclaimed => &mut self.returned_unclaimed,
            Measure::AwaitingCollection => &mut self.awaiting_collection,
        };
        *field += n;
    }

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
    values: Vec<Value>,
    backend: DatabaseBackend,
}

impl Sql {
    /// Numbered on both databases (sqlx binds SQLite's `$N` by its number), so a parameter may
    /// appear in the text before one added earlier.
    fn param(&mut self, v: Value) -> String {
        self.values.push(v);
        format!("${}", self.values.len())
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

fn period_sql(
    sql: &mut Sql,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    t: &str,
) -> Vec<String> {
    let mut w = Vec::new();
    if let Some(from) = from {
        let p = sql.time(from);
        w.push(format!("{t}.registered_at >= {p}"));
    }
    if let Some(to) = to {
        let p = sql.time(to);
        w.push(format!("{t}.registered_at < {p}"));
    }
    w
}

/// The list filters and whole months `[from, to)` on a rollup (`r`).
fn rollup_where(
    sql: &mut Sql,
    filter: &Filter,
    from: &Option<String>,
    to: &Option<String>,
) -> Vec<String> {
    let mut w = lists_sql(sql, filter, "r");
    if let Some(m) = from {
        let p = sql.param(m.clone().into());
        w.push(format!("r.month >= {p}"));
    }
    if let Some(m) = to {
        let p = sql.param(m.clone().into());
        w.push(format!("r.month < {p}"));
    }
    w
}

/// The list filters; the rollup (`r`) and the cases (`c`) name these columns alike.
fn lists_sql(sql: &mut Sql, f: &Filter, t: &str) -> Vec<String> {
    let mut w = vec!["1 = 1".to_owned()];
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
    w
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

fn int(row: &sea_orm::QueryResult, col: &str) -> Result<i64, ApiError> {
    // SUM over no rows is NULL; PostgreSQL's SUM of integers is numeric, so cast in SQL.
    Ok(row.try_get::<Option<i64>>("", col)?.unwrap_or(0))
}

/// How a period splits between the rollup (whole months, UTC+5) and the cases themselves (the
/// parts of months at either end).
#[derive(Debug, Default, PartialEq)]
struct Plan {
    /// Whole months `[from, to)` read from the rollup, `None` for none; each bound `None` when
    /// the period is open on that side.
    months: Option<(Option<String>, Option<String>)>,
    /// The registrations those whole months hold, as instants.
    in_months: Span,
    /// Instant ranges `[from, to)` read from the cases.
    raw: Vec<Span>,
}

/// Registered at or after, before; `None` for open.
type Span = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// The start of the month `at` falls in (UTC+5), or of the next one when `next` and `at` is not
/// itself a month's start; `None` outside years 1000–9999 (the plan then reads raw rows only).
fn month_start(at: DateTime<Utc>, next: bool) -> Option<(String, DateTime<Utc>)> {
    let offset = crate::store::rollup::report_offset()?;
    let local = at.with_timezone(&offset);
    let first = offset
        .with_ymd_and_hms(local.year(), local.month(), 1, 0, 0, 0)
        .single()?;
    let start = if next && first != local {
        first.checked_add_months(chrono::Months::new(1))?
    } else {
        first
    };
    (1000..=9999)
        .contains(&start.year())
        .then(|| (start.format("%Y-%m").to_string(), start.with_timezone(&Utc)))
}

impl Plan {
    fn raw_only(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Plan {
        Plan {
            months: None,
            in_months: (None, None),
            raw: vec![(from, to)],
        }
    }

    fn of(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Plan {
        let a = from.map(|f| month_start(f, true));
        let b = to.map(|t| month_start(t, false));
        let raw_only = Plan::raw_only(from, to);
        match (a, b) {
            (Some(None), _) | (_, Some(None)) => raw_only,
            (Some(Some((_, a_at))), Some(Some((_, b_at)))) if a_at >= b_at => raw_only,
            (a, b) => {
                let a = a.flatten();
                let b = b.flatten();
                let mut raw = Vec::new();
                if let (Some(f), Some((_, a_at))) = (from, &a) {
                    if f < *a_at {
                        raw.push((Some(f), Some(*a_at)));
                    }
                }
                if let (Some(t), Some((_, b_at))) = (to, &b) {
                    if *b_at < t {
                        raw.push((Some(*b_at), Some(t)));
                    }
                }
                Plan {
                    in_months: (a.as_ref().map(|m| m.1), b.as_ref().map(|m| m.1)),
                    months: Some((a.map(|m| m.0), b.map(|m| m.0))),
                    raw,
                }
            }
        }
    }
}

/// Median and 90th percentile (linear interpolation, as `percentile_cont`) of a histogram of
/// values counted in `1/scale` units (tenths: 10, hundredths: 100), in whole units.
fn histogram_median_p90(h: &BTreeMap<i64, i64>, scale: f64) -> (Option<f64>, Option<f64>) {
    let n: i64 = h.values().sum();
    if n <= 0 {
        return (None, None);
    }
    // The k-th smallest value (0-based).
    let nth = |k: i64| {
        let mut seen = 0;
        for (v, c) in h {
            seen += c;
            if seen > k {
                return *v as f64;
            }
        }
        h.keys().next_back().map_or(0.0, |v| *v as f64)
    };
    let at = |p: f64| {
        let pos = p * (n - 1) as f64;
        let (lo, hi) = (pos.floor() as i64, pos.ceil() as i64);
        let (a, b) = (nth(lo), nth(hi));
        // Whole units interpolated at a position whose fraction is a multiple of 0.1 (p = 0.9)
        // or 0.5 (the median) are whole tenths of a unit: round away the binary noise.
        ((a + (b - a) * (pos - lo as f64)) * 10.0).round() / (10.0 * scale)
    };
    (Some(at(0.5)), Some(at(0.9)))
}

/// The group key columns as `col AS g0, …` for the select list and `col, …` for GROUP BY, each
/// ending in a comma so that a branch's own columns follow.
fn group_keys(cols: &[String]) -> (String, String) {
    let select = cols
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} AS g{i}, "))
        .collect();
    let group = cols.iter().map(|c| format!("{c}, ")).collect();
    (select, group)
}

/// The start of the day of `now` in UTC+5, and that day as `YYYY-MM-DD`.
fn today(now: DateTime<Utc>) -> Option<(String, DateTime<Utc>)> {
    let offset = crate::store::rollup::report_offset()?;
    let local = now.with_timezone(&offset).date_naive();
    let start = offset
        .from_local_datetime(&local.and_hms_opt(0, 0, 0)?)
        .single()?;
    Some((
        local.format("%Y-%m-%d").to_string(),
        start.with_timezone(&Utc),
    ))
}

/// The statement the SLA report runs: whole months from the rollup, the ends of the period from
/// the cases. "Overdue now" comes from the rollup's rows whose term day has passed, plus the open
/// cases whose term ended earlier today (through the partial index `ix_case_open`). Each branch
/// yields rows of group keys, a duration bucket and counts, which [`report`] adds up. Public so
/// that the benchmark can time the very same SQL in `psql`.
pub fn report_statement(
    backend: DatabaseBackend,
    filter: &Filter,
    groups: &[Group],
    now: DateTime<Utc>,
) -> Statement {
    let mut sql = Sql {
        values: Vec::new(),
        backend,
    };
    let zeros = MEASURES
        .iter()
        .map(|m| format!("CAST(0 AS BIGINT) AS {}", m.column()))
        .collect::<Vec<_>>()
        .join(", ");
    let open = rollup::cond_sql(Measure::InProgress.rule(), backend, "c.");
    let raw_cols: Vec<String> = groups.iter().map(|g| g.column(backend, "c")).collect();
    let (raw_select, raw_group) = group_keys(&raw_cols);
    let today = today(now);
    let plan = if today.is_some() {
        Plan::of(filter.from, filter.to)
    } else {
        // A clock the day arithmetic cannot place: the cases only.
        Plan::raw_only(filter.from, filter.to)
    };
    let mut branches = Vec::new();
    if let (Some((from, to)), Some((today, today_start))) = (&plan.months, today) {
        let cols: Vec<String> = groups.iter().map(|g| g.rollup_column()).collect();
        let (select, group) = group_keys(&cols);
        let w = rollup_where(&mut sql, filter, from, to);
        let today_p = sql.param(today.into());
        let sums = MEASURES
            .iter()
            .map(|m| format!("CAST(SUM(r.{0}) AS BIGINT) AS {0}", m.column()))
            .collect::<Vec<_>>()
            .join(", ");
        branches.push(format!(
            "SELECT {select}r.tenths AS tenths, {sums}, \
             CAST(SUM(CASE WHEN r.due_day <> '' AND r.due_day < {today_p} THEN r.in_progress ELSE 0 END) AS BIGINT) AS overdue_now \
             FROM report_rollup r WHERE {} GROUP BY {group}r.tenths",
            w.join(" AND ")
        ));
        // Registered in those months, due earlier today: overdue, though their day has not passed.
        let mut w = lists_sql(&mut sql, filter, "c");
        w.extend(period_sql(
            &mut sql,
            plan.in_months.0,
            plan.in_months.1,
            "c",
        ));
        let (start_p, now_p) = (sql.time(today_start), sql.time(now));
        // The predicate is the partial index's, word for word.
        w.push(format!(
            "{open} AND c.term_due_at >= {start_p} AND c.term_due_at < {now_p}"
        ));
        branches.push(format!(
            "SELECT {raw_select}-1 AS tenths, {zeros}, CAST(COUNT(*) AS BIGINT) AS overdue_now \
                 FROM service_case c WHERE {}{}",
            w.join(" AND "),
            if raw_cols.is_empty() {
                String::new()
            } else {
                format!(" GROUP BY {}", raw_cols.join(", "))
            }
        ));
    }
    let tenths = crate::store::rollup::tenths_sql(backend, "c.result_working_days");
    for (from, to) in &plan.raw {
        let mut w = lists_sql(&mut sql, filter, "c");
        w.extend(period_sql(&mut sql, *from, *to, "c"));
        let now_p = sql.time(now);
        branches.push(format!(
            "SELECT {raw_select}{tenths} AS tenths, {}, \
             CAST(SUM(CASE WHEN {open} AND c.term_due_at < {now_p} THEN 1 ELSE 0 END) AS BIGINT) AS overdue_now \
             FROM service_case c WHERE {} GROUP BY {raw_group}{tenths}",
            rollup::measure_sums_sql(backend, "c.").join(", "),
            w.join(" AND ")
        ));
    }
    Statement::from_sql_and_values(backend, branches.join(" UNION ALL "), sql.values)
}

#[derive(Default)]
struct Totals {
    row: ReportRow,
    durations: BTreeMap<i64, i64>,
}

/// The SLA report, ordered by the group keys.
pub async fn report(
    db: &impl ConnectionTrait,
    filter: &Filter,
    groups: &[Group],
    now: DateTime<Utc>,
) -> Result<Vec<ReportRow>, ApiError> {
    let statement = report_statement(db.get_database_backend(), filter, groups, now);
    let rows = db.query_all_raw(statement).await?;
    let mut by: BTreeMap<Vec<KeyValue>, Totals> = BTreeMap::new();
    for row in &rows {
        let keys = keys_of(row, groups)?;
        let tot = by.entry(ordered(&keys, groups)).or_default();
        tot.row.keys = keys;
        let r = &mut tot.row;
        for m in MEASURES {
            r.add(m, int(row, m.column())?);
        }
        let received = int(row, Measure::Received.column())?;
        r.overdue_now += int(row, "overdue_now")?;
        let tenths: i32 = row.try_get("", "tenths")?;
        if tenths >= 0 && received != 0 {
            *tot.durations.entry(i64::from(tenths)).or_default() += received;
        }
    }
    Ok(by
        .into_values()
        .filter(|t| t.row.received > 0) // rows emptied by cases that moved on
        .map(|mut t| {
            (t.row.median_working_days, t.row.p90_working_days) =
                histogram_median_p90(&t.durations, 10.0);
            t.row
        })
        .collect())
}

/// One group key's value, for ordering rows by their keys.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum KeyValue {
    Text(Option<String>),
    Id(Option<i64>),
}

fn ordered(k: &Keys, groups: &[Group]) -> Vec<KeyValue> {
    groups
        .iter()
        .map(|g| match g {
            Group::Region => KeyValue::Text(k.region.clone()),
            Group::Service => KeyValue::Text(k.service.clone()),
            Group::Provider => KeyValue::Id(k.provider),
            Group::Channel => KeyValue::Text(k.channel.clone()),
            Group::Month => KeyValue::Text(k.month.clone()),
        })
        .collect()
}

/// The statement step compliance runs: whole months from the step rollup, the ends of the period
/// from the steps themselves, as rows of keys, mailbox, stage, share bucket (hundredths) and
/// counts. Public so that benchmarks can time the very same SQL.
pub fn step_statement(backend: DatabaseBackend, filter: &Filter, groups: &[Group]) -> Statement {
    let mut sql = Sql {
        values: Vec::new(),
        backend,
    };
    let f = match backend {
        DatabaseBackend::Postgres => "FALSE",
        _ => "0",
    };
    let plan = Plan::of(filter.from, filter.to);
    let mut branches = Vec::new();
    if let Some((from, to)) = &plan.months {
        let cols: Vec<String> = groups.iter().map(|g| g.rollup_column()).collect();
        let (select, group) = group_keys(&cols);
        let w = rollup_where(&mut sql, filter, from, to);
        branches.push(format!(
            "SELECT {select}r.mailbox AS mailbox, r.stage AS stage, r.share_bucket AS bucket, \
             CAST(SUM(r.steps) AS BIGINT) AS steps, CAST(SUM(r.late) AS BIGINT) AS late \
             FROM step_rollup r WHERE {} GROUP BY {group}r.mailbox, r.stage, r.share_bucket",
            w.join(" AND ")
        ));
    }
    let cols: Vec<String> = groups.iter().map(|g| g.column(backend, "c")).collect();
    let (select, group) = group_keys(&cols);
    let bucket = crate::store::rollup::share_bucket_sql(backend);
    for (from, to) in &plan.raw {
        let mut w = lists_sql(&mut sql, filter, "c");
        w.extend(period_sql(&mut sql, *from, *to, "c"));
        branches.push(format!(
            "SELECT {select}s.mailbox AS mailbox, s.stage AS stage, {bucket} AS bucket, \
             CAST(COUNT(*) AS BIGINT) AS steps, \
             CAST(SUM(CASE WHEN s.on_time = {f} THEN 1 ELSE 0 END) AS BIGINT) AS late \
             FROM case_step s JOIN service_case c ON c.id = s.case_id \
             WHERE s.finished_at IS NOT NULL AND s.allowed_minutes > 0 AND s.used_minutes IS NOT NULL \
             AND {} GROUP BY {group}s.mailbox, s.stage, {bucket}",
            w.join(" AND ")
        ));
    }
    Statement::from_sql_and_values(backend, branches.join(" UNION ALL "), sql.values)
}

/// Step compliance: per mailbox and stage (and the groups), finished steps, late ones, and the
/// share of the allowed working time used (median and 90th percentile over shares counted in
/// hundredths). Ordered by mailbox, stage and the group keys.
pub async fn step_compliance(
    db: &impl ConnectionTrait,
    filter: &Filter,
    groups: &[Group],
) -> Result<Vec<StepRow>, ApiError> {
    let rows = db
        .query_all_raw(step_statement(db.get_database_backend(), filter, groups))
        .await?;
    type Key = (String, String, Vec<KeyValue>);
    let mut by: BTreeMap<Key, (StepRow, BTreeMap<i64, i64>)> = BTreeMap::new();
    for row in &rows {
        let keys = keys_of(row, groups)?;
        let mailbox: String = row.try_get("", "mailbox")?;
        let stage: String = row.try_get("", "stage")?;
        let entry = by
            .entry((mailbox.clone(), stage.clone(), ordered(&keys, groups)))
            .or_insert_with(|| {
                (
                    StepRow {
                        keys,
                        mailbox,
                        stage,
                        ..StepRow::default()
                    },
                    BTreeMap::new(),
                )
            });
        let steps = int(row, "steps")?;
        entry.0.steps += steps;
        entry.0.late += int(row, "late")?;
        *entry.1.entry(row.try_get("", "bucket")?).or_default() += steps;
    }
    Ok(by
        .into_values()
        .filter(|(r, _)| r.steps > 0)
        .map(|(mut r, h)| {
            (r.median_share_used, r.p90_share_used) = histogram_median_p90(&h, 100.0);
            r
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Linear-interpolation percentile of sorted values, as `percentile_cont`.
    fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
        if sorted.is_empty() {
            return None;
        }
        let pos = p * (sorted.len() - 1) as f64;
        let lo = pos.floor() as usize;
        let hi = pos.ceil() as usize;
        let frac = pos - lo as f64;
        Some(sorted[lo] + (sorted[hi] - sorted[lo]) * frac)
    }

    fn median_p90(values: &mut [f64]) -> (Option<f64>, Option<f64>) {
        values.sort_by(f64::total_cmp);
        (percentile(values, 0.5), percentile(values, 0.9))
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn a_period_splits_into_whole_months_and_raw_ends() {
        let p = Plan::of(
            Some(at("2025-06-02T11:30:00+05:00")),
            Some(at("2025-08-05T00:00:00+05:00")),
        );
        assert_eq!(
            p,
            Plan {
                months: Some((Some("2025-07".into()), Some("2025-08".into()))),
                in_months: (
                    Some(at("2025-07-01T00:00:00+05:00")),
                    Some(at("2025-08-01T00:00:00+05:00"))
                ),
                raw: vec![
                    (
                        Some(at("2025-06-02T11:30:00+05:00")),
                        Some(at("2025-07-01T00:00:00+05:00"))
                    ),
                    (
                        Some(at("2025-08-01T00:00:00+05:00")),
                        Some(at("2025-08-05T00:00:00+05:00"))
                    ),
                ],
            }
        );
        // A calendar year in UTC+5 is twelve whole months and nothing else.
        let year = Plan::of(
            Some(at("2025-01-01T00:00:00+05:00")),
            Some(at("2026-01-01T00:00:00+05:00")),
        );
        assert_eq!(
            year,
            Plan {
                months: Some((Some("2025-01".into()), Some("2026-01".into()))),
                in_months: (
                    Some(at("2025-01-01T00:00:00+05:00")),
                    Some(at("2026-01-01T00:00:00+05:00"))
                ),
                raw: vec![],
            }
        );
        // Midnight UTC is 05:00 in Kazakhstan: not a month's start there.
        let utc = Plan::of(Some(at("2025-01-01T00:00:00Z")), None);
        assert_eq!(utc.months, Some((Some("2025-02".into()), None)));
        assert_eq!(
            utc.raw,
            vec![(
                Some(at("2025-01-01T00:00:00Z")),
                Some(at("2025-02-01T00:00:00+05:00"))
            )]
        );
        // Within one month: the cases only.
        let short = Plan::of(
            Some(at("2025-06-02T00:00:00+05:00")),
            Some(at("2025-06-30T00:00:00+05:00")),
        );
        assert_eq!(short.months, None);
        assert_eq!(short.raw.len(), 1);
        // No period at all: the whole rollup.
        assert_eq!(
            Plan::of(None, None),
            Plan {
                months: Some((None, None)),
                in_months: (None, None),
                raw: vec![]
            }
        );
        // Years the month keys cannot order: the cases only.
        let far = Plan::of(
            Some(DateTime::<Utc>::MIN_UTC),
            Some(DateTime::<Utc>::MAX_UTC),
        );
        assert_eq!(far.months, None);
    }

    #[test]
    fn histogram_percentiles_equal_percentile_cont_over_the_expanded_values() {
        let h: BTreeMap<i64, i64> = [(10, 2), (17, 1), (69, 1)].into_iter().collect();
        let (m, p) = histogram_median_p90(&h, 10.0);
        let mut expanded = vec![1.0, 1.0, 1.7, 6.9];
        let (em, ep) = median_p90(&mut expanded);
        assert!(m.zip(em).is_some_and(|(a, b)| (a - b).abs() < 1e-12));
        assert!(p.zip(ep).is_some_and(|(a, b)| (a - b).abs() < 1e-12));
        assert_eq!(p, Some(5.34));
        assert_eq!(histogram_median_p90(&BTreeMap::new(), 10.0), (None, None));
        let one: BTreeMap<i64, i64> = [(3, 1)].into_iter().collect();
        assert_eq!(histogram_median_p90(&one, 10.0), (Some(0.3), Some(0.3)));
        // Shares in hundredths: 0, 96, 162, 660 → median 1.29, p90 1.62 + 0.7 × 4.98 = 5.106.
        let shares: BTreeMap<i64, i64> =
            [(0, 1), (96, 1), (162, 1), (660, 1)].into_iter().collect();
        assert_eq!(
            histogram_median_p90(&shares, 100.0),
            (Some(1.29), Some(5.106))
        );
    }

    #[test]
    fn percentiles_interpolate_like_percentile_cont() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile(&v, 0.5), Some(2.5));
        assert!(percentile(&v, 0.9).is_some_and(|p| (p - 3.7).abs() < 1e-12));
        assert_eq!(percentile(&[5.0], 0.9), Some(5.0));
        assert_eq!(percentile(&[], 0.5), None);
    }
}
