//! Reports by region, for analysts only: a regional analyst sees their region, a national
//! analyst all. Asking for another region gives nothing of it.

use std::collections::HashMap;

use async_graphql::{Context, Enum, InputObject, Object, SimpleObject};
use chrono::Utc;
use domain::deadline::WorkingClock;
use domain::identity::Role as DomainRole;
use entity::{case_step, organisation, service_case};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::auth::{require, Principal};
use crate::error::ApiError;
use crate::graphql::cases::{cursor, page_size, parse_cursor, Case};
use crate::graphql::catalog::{Channel, Mailbox, Stage};
use crate::graphql::documents::DownloadLink;
use crate::graphql::scalars::Instant;
use crate::graphql::state;
use crate::state::AppState;
use crate::store::cases as store_cases;
use crate::store::reports::{self, Filter, Group, Keys};

/// Open steps read per query by `atRiskCases`.
const AT_RISK_BATCH: u64 = 500;
/// Open steps one `atRiskCases` page looks at, at most, before it ends the page (the cursor goes
/// on from there).
const AT_RISK_SCAN_LIMIT: usize = 20_000;

const ANALYSTS: &[DomainRole] = &[DomainRole::Analyst];

/// A stage as stored; an unknown one is a defect, not the client's fault.
fn stored_stage(s: &str) -> Result<Stage, ApiError> {
    domain::case::Stage::parse(s)
        .map(Into::into)
        .ok_or_else(|| ApiError::internal(std::io::Error::other(format!("stored stage {s:?}"))))
}

/// A grouping of reports.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "crate::store::reports::Group")]
pub enum ReportGroup {
    /// By region.
    Region,
    /// By service.
    Service,
    /// By provider.
    Provider,
    /// By channel.
    Channel,
    /// By month of registration (Kazakhstan time, UTC+5).
    Month,
}

/// What to report on; every list narrows, an absent list does not.
#[derive(InputObject, Default)]
pub struct ReportFilter {
    /// Region codes.
    pub regions: Option<Vec<String>>,
    /// Service codes.
    pub services: Option<Vec<String>>,
    /// Provider (organisation) codes.
    pub providers: Option<Vec<String>>,
    /// Channels.
    pub channels: Option<Vec<Channel>>,
    /// Cases registered at or after this instant.
    pub from: Option<Instant>,
    /// Cases registered before this instant.
    pub to: Option<Instant>,
}

/// One row of the SLA report.
#[derive(SimpleObject)]
pub struct ReportRow {
    /// Region code, when grouped by region.
    region: Option<String>,
    /// Service code, when grouped by service.
    service: Option<String>,
    /// Provider code, when grouped by provider.
    provider: Option<String>,
    /// Channel, when grouped by channel.
    channel: Option<Channel>,
    /// Month `YYYY-MM` (UTC+5), when grouped by month.
    month: Option<String>,
    /// Cases registered in the period.
    received: i64,
    /// Neither refused at intake nor delivered yet.
    in_progress: i64,
    /// Results delivered (issued, or arrived at the State Corporation counter).
    completed: i64,
    /// Of which by the legal result date.
    completed_on_time: i64,
    /// Of which after it.
    completed_late: i64,
    /// Refused at intake with a refusal receipt.
    refused_at_intake: i64,
    /// Reasoned refusals delivered.
    refused_with_reasons: i64,
    /// Results returned to the provider after a month unclaimed.
    returned_unclaimed: i64,
    /// Results (or reasoned refusals) ready and not yet collected: waiting at the State
    /// Corporation counter, stored at the provider after the storage month, or on their way back
    /// to the counter on request. Waiting for the applicant is not staff time: these cases are
    /// counted neither in progress nor overdue.
    awaiting_collection: i64,
    /// In progress and past the legal result date now.
    overdue_now: i64,
    /// Completed on time / completed; null when nothing was completed.
    on_time_rate: Option<f64>,
    /// Median working days from registration to delivery (results and reasoned refusals), each
    /// duration counted in tenths of a working day (half up), interpolated as `percentile_cont`.
    median_working_days: Option<f64>,
    /// 90th percentile of working days from registration to delivery, counted as the median.
    p90_working_days: Option<f64>,
}

/// One row of the step-compliance report.
#[derive(SimpleObject)]
pub struct StepComplianceRow {
    /// The mailbox.
    mailbox: Mailbox,
    /// What the step does, e.g. `RESOLUTION`, `PREPARE`, `CORPORATION_TRANSFER`.
    stage: Stage,
    /// Region code, when grouped by region.
    region: Option<String>,
    /// Service code, when grouped by service.
    service: Option<String>,
    /// Provider code, when grouped by provider.
    provider: Option<String>,
    /// Channel, when grouped by channel.
    channel: Option<Channel>,
    /// Month `YYYY-MM` (UTC+5), when grouped by month.
    month: Option<String>,
    /// Finished steps.
    steps: i64,
    /// Of which finished after their due time.
    late: i64,
    /// Median share of the allowed working time used (1.0 = all of it), each step's share counted
    /// in hundredths (half up), interpolated as `percentile_cont`.
    median_share_used: Option<f64>,
    /// 90th percentile of the share of the allowed working time used.
    p90_share_used: Option<f64>,
}

/// A page of cases.
#[derive(SimpleObject)]
pub struct CasePage {
    /// This page.
    nodes: Vec<Case>,
    /// Pass as `after` for the next page.
    end_cursor: Option<String>,
    /// Whether there is a next page.
    has_next_page: bool,
}

/// An open step that has used more than the given share of its allowed time.
#[derive(SimpleObject)]
pub struct AtRiskStep {
    /// The case.
    case: Case,
    /// What the step does.
    stage: Stage,
    /// The mailbox holding it.
    mailbox: Mailbox,
    /// When it started.
    started_at: Instant,
    /// When it is due.
    due_at: Instant,
    /// Share of the allowed working time used so far (above 1.0: overdue).
    share_used: f64,
}

/// A page of at-risk steps.
#[derive(SimpleObject)]
pub struct AtRiskPage {
    /// This page, earliest due first.
    nodes: Vec<AtRiskStep>,
    /// Pass as `after` for the next page.
    end_cursor: Option<String>,
    /// Whether there is a next page.
    has_next_page: bool,
}

/// Turns the request into a database filter within the analyst's scope. Unknown codes are
/// `BAD_USER_INPUT`; regions outside the scope are dropped (and give nothing).
pub async fn resolve_filter(
    state: &AppState,
    p: &Principal,
    input: ReportFilter,
) -> Result<Filter, ApiError> {
    for r in input.regions.iter().flatten() {
        if !state.regions.contains_key(r) {
            return Err(ApiError::BadUserInput(format!("unknown region {r:?}")));
        }
    }
    let regions = match (&p.region, input.regions) {
        (None, requested) => requested,
        (Some(own), None) => Some(vec![own.clone()]),
        (Some(own), Some(requested)) => Some(requested.into_iter().filter(|r| r == own).collect()),
    };
    if let Some(services) = &input.services {
        let known = state.regulations.latest(&state.db, None, None).await?;
        for s in services {
            if !known.iter().any(|k| &k.regulation.service == s) {
                return Err(ApiError::BadUserInput(format!("unknown service {s:?}")));
            }
        }
    }
    let providers = match input.providers {
        Some(codes) => {
            let mut ids = Vec::with_capacity(codes.len());
            for c in codes {
                let org = organisation::Entity::find()
                    .filter(organisation::Column::Code.eq(c.as_str()))
                    .one(&state.db)
                    .await?
                    .ok_or_else(|| ApiError::BadUserInput(format!("unknown provider {c:?}")))?;
                ids.push(org.id);
            }
            Some(ids)
        }
        None => None,
    };
    if let (Some(from), Some(to)) = (input.from, input.to) {
        if from >= to {
            return Err(ApiError::BadUserInput("`from` must be before `to`".into()));
        }
    }
    Ok(Filter {
        regions,
        services: input.services,
        providers,
        channels: input.channels.map(|cs| {
            cs.into_iter()
                .map(|c| store_cases::channel_str(c.into()).to_owned())
                .collect()
        }),
        from: input.from.map(|t| t.0),
        to: input.to.map(|t| t.0),
    })
}

/// Provider codes by id, for rows grouped by provider.
pub async fn provider_codes(state: &AppState) -> Result<HashMap<i64, String>, ApiError> {
    Ok(organisation::Entity::find()
        .all(&state.db)
        .await?
        .into_iter()
        .map(|o| (o.id, o.code))
        .collect())
}

fn channel_of(k: &Keys) -> Option<Channel> {
    k.channel
        .as_deref()
        .and_then(store_cases::parse_channel)
        .map(Into::into)
}

/// The SLA report rows for a request (shared by GraphQL and CSV).
pub async fn report_rows(
    state: &AppState,
    p: &Principal,
    filter: ReportFilter,
    groups: &[Group],
) -> Result<Vec<reports::ReportRow>, ApiError> {
    let f = resolve_filter(state, p, filter).await?;
    reports::report(&state.db, &f, &dedup(groups), state.clock.now()).await
}

/// The step-compliance rows for a request (shared by GraphQL and CSV).
pub async fn step_rows(
    state: &AppState,
    p: &Principal,
    filter: ReportFilter,
    groups: &[Group],
) -> Result<Vec<reports::StepRow>, ApiError> {
    let f = resolve_filter(state, p, filter).await?;
    reports::step_compliance(&state.db, &f, &dedup(groups)).await
}

fn dedup(groups: &[Group]) -> Vec<Group> {
    let mut g = groups.to_vec();
    g.sort();
    g.dedup();
    g
}

fn scope_condition(f: &Filter) -> Condition {
    let mut c = Condition::all();
    if let Some(r) = &f.regions {
        c = c.add(service_case::Column::RegionCode.is_in(r.clone()));
    }
    if let Some(s) = &f.services {
        c = c.add(service_case::Column::ServiceCode.is_in(s.clone()));
    }
    if let Some(p) = &f.providers {
        c = c.add(service_case::Column::ProviderId.is_in(p.clone()));
    }
    if let Some(ch) = &f.channels {
        c = c.add(service_case::Column::Channel.is_in(ch.clone()));
    }
    if let Some(from) = f.from {
        c = c.add(service_case::Column::RegisteredAt.gte(from));
    }
    if let Some(to) = f.to {
        c = c.add(service_case::Column::RegisteredAt.lt(to));
    }
    c
}

/// Report queries.
#[derive(Default)]
pub struct ReportQuery;

/// A report as a CSV file.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum ReportFile {
    /// `report` as `/reports/cases.csv`.
    Cases,
    /// `stepReport` as `/reports/steps.csv`.
    Steps,
}

/// The CSV endpoints' query parameters for a filter and groupings, as `http.rs` reads them.
fn csv_params(
    filter: &ReportFilter,
    groups: &[Group],
) -> std::collections::BTreeMap<String, String> {
    let mut p = std::collections::BTreeMap::new();
    let group_name = |g: &Group| match g {
        Group::Region => "REGION",
        Group::Service => "SERVICE",
        Group::Provider => "PROVIDER",
        Group::Channel => "CHANNEL",
        Group::Month => "MONTH",
    };
    if !groups.is_empty() {
        p.insert(
            "groupBy".to_owned(),
            groups.iter().map(group_name).collect::<Vec<_>>().join(","),
        );
    }
    for (key, list) in [
        ("regions", &filter.regions),
        ("services", &filter.services),
        ("providers", &filter.providers),
    ] {
        if let Some(list) = list {
            p.insert(key.to_owned(), list.join(","));
        }
    }
    if let Some(cs) = &filter.channels {
        let names: Vec<&str> = cs
            .iter()
            .map(|c| crate::store::cases::channel_str((*c).into()))
            .collect();
        p.insert("channels".to_owned(), names.join(","));
    }
    for (key, t) in [("from", filter.from), ("to", filter.to)] {
        if let Some(t) = t {
            p.insert(key.to_owned(), t.0.to_rfc3339());
        }
    }
    p
}

#[Object]
impl ReportQuery {
    /// A link that downloads `report` or `stepReport` as CSV (UTF-8 with a byte-order mark)
    /// with the same filter and groupings, for a browser to open without an `Authorization`
    /// header. It works for five minutes, for these parameters only, and within the caller's
    /// scope as it is when the link is opened.
    async fn report_download(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which report.")] report: ReportFile,
        #[graphql(desc = "What to report on.")] filter: Option<ReportFilter>,
        #[graphql(
            desc = "Groupings, e.g. [REGION, SERVICE]; none gives one total row.",
            validator(max_items = 5)
        )]
        group_by: Vec<ReportGroup>,
    ) -> Result<DownloadLink, ApiError> {
        let p = require(ctx, ANALYSTS)?;
        let state = state(ctx)?;
        let groups: Vec<Group> = group_by.into_iter().map(Into::into).collect();
        let params = csv_params(&filter.unwrap_or_default(), &groups);
        let path = match report {
            ReportFile::Cases => "/reports/cases.csv",
            ReportFile::Steps => "/reports/steps.csv",
        };
        let (url, expires_at) =
            crate::links::sign(&state.tokens, p.subject.clone(), path, &params, Utc::now())?;
        Ok(DownloadLink::new(url, expires_at))
    }

    /// SLA compliance by group: received, in progress, completed on time and late, refusals,
    /// returned unclaimed, overdue now, on-time rate, median and 90th-percentile working days.
    async fn report(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to report on.")] filter: Option<ReportFilter>,
        #[graphql(desc = "Groupings, e.g. [REGION, SERVICE]; none gives one total row.")] group_by: Vec<ReportGroup>,
    ) -> Result<Vec<ReportRow>, ApiError> {
        let p = require(ctx, ANALYSTS)?;
        let state = state(ctx)?;
        let groups: Vec<Group> = group_by.into_iter().map(Into::into).collect();
        let rows = report_rows(state, p, filter.unwrap_or_default(), &groups).await?;
        let codes = if groups.contains(&Group::Provider) {
            provider_codes(state).await?
        } else {
            HashMap::new()
        };
        Ok(rows
            .into_iter()
            .map(|r| ReportRow {
                on_time_rate: r.on_time_rate(),
                channel: channel_of(&r.keys),
                provider: r.keys.provider.and_then(|id| codes.get(&id).cloned()),
                region: r.keys.region,
                service: r.keys.service,
                month: r.keys.month,
                received: r.received,
                in_progress: r.in_progress,
                completed: r.completed,
                completed_on_time: r.completed_on_time,
                completed_late: r.completed_late,
                refused_at_intake: r.refused_at_intake,
                refused_with_reasons: r.refused_with_reasons,
                returned_unclaimed: r.returned_unclaimed,
                awaiting_collection: r.awaiting_collection,
                overdue_now: r.overdue_now,
                median_working_days: r.median_working_days,
                p90_working_days: r.p90_working_days,
            })
            .collect())
    }

    /// Where the time goes: per mailbox and step (and the groupings), how many steps, how many
    /// late, and the median and 90th-percentile share of the allowed working time used.
    async fn step_compliance(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to report on.")] filter: Option<ReportFilter>,
        #[graphql(desc = "Further groupings beside mailbox and step.", default)] group_by: Vec<
            ReportGroup,
        >,
    ) -> Result<Vec<StepComplianceRow>, ApiError> {
        let p = require(ctx, ANALYSTS)?;
        let state = state(ctx)?;
        let groups: Vec<Group> = group_by.into_iter().map(Into::into).collect();
        let rows = step_rows(state, p, filter.unwrap_or_default(), &groups).await?;
        let codes = provider_codes(state).await?;
        rows.into_iter()
            .map(|r| {
                Ok(StepComplianceRow {
                    mailbox: store_cases::parse_mailbox(&r.mailbox)
                        .ok_or_else(|| ApiError::internal(std::io::Error::other("stored mailbox")))?
                        .into(),
                    stage: stored_stage(&r.stage)?,
                    channel: channel_of(&r.keys),
                    provider: r.keys.provider.and_then(|id| codes.get(&id).cloned()),
                    region: r.keys.region,
                    service: r.keys.service,
                    month: r.keys.month,
                    steps: r.steps,
                    late: r.late,
                    median_share_used: r.median_share_used,
                    p90_share_used: r.p90_share_used,
                })
            })
            .collect()
    }

    /// Cases past their legal result date and not yet delivered, earliest due first.
    async fn overdue_cases(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to report on.")] filter: Option<ReportFilter>,
        #[graphql(desc = "Page size, 1–200 (default 50).")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
    ) -> Result<CasePage, ApiError> {
        let p = require(ctx, ANALYSTS)?;
        let state = state(ctx)?;
        let f = resolve_filter(state, p, filter.unwrap_or_default()).await?;
        let now = state.clock.now();
        // Overdue now, as the reports count it (`domain::report`): open and past the legal date.
        let open = crate::store::rollup::cond_sql(
            domain::report::Measure::InProgress.rule(),
            sea_orm::ConnectionTrait::get_database_backend(&state.db),
            "",
        );
        let mut cond = scope_condition(&f)
            .add(sea_orm::sea_query::Expr::cust(open))
            .add(service_case::Column::TermDueAt.lt(now));
        if let Some(a) = after {
            let (due, id) = parse_cursor(&a)?;
            cond = cond.add(
                Condition::any()
                    .add(service_case::Column::TermDueAt.gt(due))
                    .add(
                        Condition::all()
                            .add(service_case::Column::TermDueAt.eq(due))
                            .add(service_case::Column::Id.gt(id)),
                    ),
            );
        }
        let size = page_size(first)? as usize;
        let mut rows = service_case::Entity::find()
            .filter(cond)
            .order_by_asc(service_case::Column::TermDueAt)
            .order_by_asc(service_case::Column::Id)
            .limit((size + 1) as u64)
            .all(&state.db)
            .await?;
        let has_next_page = rows.len() > size;
        rows.truncate(size);
        let end_cursor = rows
            .last()
            .and_then(|c| c.term_due_at.map(|d| cursor(d, c.id)));
        Ok(CasePage {
            nodes: rows
                .into_iter()
                .map(Case::try_from)
                .collect::<Result<_, _>>()?,
            end_cursor,
            has_next_page,
        })
    }

    /// Open steps that have used more than `threshold` of their allowed working time
    /// (0.8 = 80%), earliest due first.
    async fn at_risk_cases(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Share of the allowed time, e.g. 0.8.")] threshold: f64,
        #[graphql(desc = "What to report on.")] filter: Option<ReportFilter>,
        #[graphql(desc = "Page size, 1–200 (default 50).")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
    ) -> Result<AtRiskPage, ApiError> {
        if !(0.0..=10.0).contains(&threshold) {
            return Err(ApiError::BadUserInput(
                "threshold must be between 0 and 10".into(),
            ));
        }
        let p = require(ctx, ANALYSTS)?;
        let state = state(ctx)?;
        let f = resolve_filter(state, p, filter.unwrap_or_default()).await?;
        let now = state.clock.now();
        let after = after.map(|a| parse_cursor(&a)).transpose()?;
        // Open steps of cases in scope, in due order, read in bounded batches (keyset on due
        // time and id) until the page is full: memory stays at one batch and one page whatever
        // the number of open cases.
        let in_scope = sea_orm::sea_query::Query::select()
            .column(service_case::Column::Id)
            .from(service_case::Entity)
            .cond_where(
                scope_condition(&f)
                    .add(service_case::Column::StepDueAt.lt(store_cases::far_future())),
            )
            .to_owned();
        let calendar = state.calendar.current();
        let mut orgs: HashMap<i64, (domain::deadline::WorkingHours, chrono_tz::Tz)> =
            HashMap::new();
        let size = page_size(first)? as usize;
        let mut nodes = Vec::new();
        let mut has_next_page = false;
        let mut from = after;
        let mut scanned = 0usize;
        'batches: loop {
            let mut q = case_step::Entity::find()
                .filter(case_step::Column::FinishedAt.is_null())
                .filter(case_step::Column::AllowedMinutes.gt(0))
                .filter(case_step::Column::DueAt.is_not_null())
                .filter(case_step::Column::CaseId.in_subquery(in_scope.clone()));
            if let Some((d, id)) = from {
                q = q.filter(
                    Condition::any().add(case_step::Column::DueAt.gt(d)).add(
                        Condition::all()
                            .add(case_step::Column::DueAt.eq(d))
                            .add(case_step::Column::Id.gt(id)),
                    ),
                );
            }
            let batch = q
                .order_by_asc(case_step::Column::DueAt)
                .order_by_asc(case_step::Column::Id)
                .limit(AT_RISK_BATCH)
                .all(&state.db)
                .await?;
            let last_batch = (batch.len() as u64) < AT_RISK_BATCH;
            for s in batch {
                let (Some(due), Some(allowed)) = (s.due_at, s.allowed_minutes) else {
                    continue;
                };
                from = Some((due, s.id));
                scanned += 1;
                if !orgs.contains_key(&s.organisation_id) {
                    if let Some(org) = organisation::Entity::find_by_id(s.organisation_id)
                        .one(&state.db)
                        .await?
                    {
                        orgs.insert(org.id, store_cases::hours_and_zone(state, &org)?);
                    }
                }
                let Some((hours, tz)) = orgs.get(&s.organisation_id) else {
                    continue;
                };
                let clock = WorkingClock::new(&calendar, *hours, *tz);
                let Ok(used) = clock.elapsed(s.started_at, now) else {
                    continue;
                };
                let share = used.working_minutes as f64 / allowed as f64;
                if share <= threshold {
                    continue;
                }
                if nodes.len() == size {
                    has_next_page = true;
                    break 'batches;
                }
                let Some(c) = service_case::Entity::find_by_id(s.case_id)
                    .one(&state.db)
                    .await?
                else {
                    continue;
                };
                nodes.push((
                    cursor(due, s.id),
                    AtRiskStep {
                        case: Case::try_from(c)?,
                        stage: stored_stage(&s.stage)?,
                        mailbox: store_cases::parse_mailbox(&s.mailbox)
                            .ok_or_else(|| {
                                ApiError::internal(std::io::Error::other("stored mailbox"))
                            })?
                            .into(),
                        started_at: s.started_at.into(),
                        due_at: due.into(),
                        share_used: share,
                    },
                ));
            }
            if last_batch {
                break;
            }
            if scanned >= AT_RISK_SCAN_LIMIT {
                // Not at risk so far: the page ends here; the cursor lets the client go on.
                has_next_page = true;
                break;
            }
        }
        let end_cursor = nodes.last().map(|(c, _)| c.clone()).or_else(|| {
            has_next_page
                .then(|| from.map(|(d, id)| cursor(d, id)))
                .flatten()
        });
        Ok(AtRiskPage {
            nodes: nodes.into_iter().map(|(_, n)| n).collect(),
            end_cursor,
            has_next_page,
        })
    }
}
