//! `qyzmet generate --cases N`: fills a database with realistic cases for demos, reports and
//! benchmarks — across the regions, services and channels of the loaded regulations, in every
//! status, with their steps timed on the working calendar and one verifiable event each.
//!
//! Rows are written in bulk (not through the mailboxes): a million cases in minutes.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Months, TimeZone, Utc};
use domain::case::{self, Attributes, CaseStatus, Holder, Stage};
use domain::deadline::{Intake, LegalDuration, WorkingClock};
use domain::regulation::Channel;
use entity::{case_event, case_step, organisation, service_case};
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, EntityTrait, QueryOrder, Statement, TransactionTrait,
};
use serde_json::json;

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::cases::{channel_str, event_hash, far_future, hours_and_zone, mailbox_str};

/// What was written.
#[derive(Debug, Default)]
pub struct Generated {
    /// Cases.
    pub cases: u64,
    /// Step rows.
    pub steps: u64,
}

/// A small, fast, reproducible generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

const BATCH: usize = 400;

/// Generates `n` cases registered during `year` (seeded, so runs are reproducible).
pub async fn generate(
    state: &AppState,
    n: u64,
    year: i32,
    seed: u64,
) -> Result<Generated, ApiError> {
    let db = &state.db;
    let calendar = state.calendar.current();
    let regs = state.regulations.latest(db, None, None).await?;
    let orgs = organisation::Entity::find()
        .order_by_asc(organisation::Column::Id)
        .all(db)
        .await?;
    let mut clocks: HashMap<i64, WorkingClock<'_>> = HashMap::new();
    for o in &orgs {
        let (h, tz) = hours_and_zone(state, o)?;
        clocks.insert(o.id, WorkingClock::new(&calendar, h, tz));
    }
    // Who provides what: organisations of the right kind in the regulation's region.
    let mut choices = Vec::new();
    for r in &regs {
        let providers: Vec<&organisation::Model> = orgs
            .iter()
            .filter(|o| {
                o.region_code == r.regulation.region
                    && r.regulation.provider_kinds.contains(&o.kind)
            })
            .collect();
        let branch = orgs
            .iter()
            .find(|o| o.region_code == r.regulation.region && o.kind == "STATE_CORPORATION");
        if !providers.is_empty() {
            choices.push((r, providers, branch));
        }
    }
    if choices.is_empty() {
        return Err(ApiError::BadUserInput(
            "no organisation provides any loaded regulation".into(),
        ));
    }
    let next_id = |table: &str| {
        let sql = format!("SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) AS m FROM {table}");
        async move {
            let row = db
                .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
                .await?;
            Ok::<i64, ApiError>(
                row.map(|r| r.try_get::<i64>("", "m"))
                    .transpose()?
                    .unwrap_or(0)
                    + 1,
            )
        }
    };
    let (mut case_id, mut step_id, mut event_id) = (
        next_id("service_case").await?,
        next_id("case_step").await?,
        next_id("case_event").await?,
    );
    let start = Utc
        .with_ymd_and_hms(year, 1, 1, 3, 0, 0)
        .single()
        .ok_or_else(|| ApiError::BadUserInput("bad year".into()))?;
    let span_minutes = 365 * 24 * 60;
    let mut rng = Rng(seed.max(1));
    let mut out = Generated::default();
    let (mut cases, mut steps, mut events) = (Vec::new(), Vec::new(), Vec::new());
    let now = state.clock.now();

    for _ in 0..n {
        let (stored, providers, branch) = &choices[rng.below(choices.len() as u64) as usize];
        let reg = &stored.regulation;
        let channel = reg.apply_channels[rng.below(reg.apply_channels.len() as u64) as usize];
        let branch = if channel == Channel::StateCorporation {
            *branch
        } else {
            None
        };
        if channel == Channel::StateCorporation && branch.is_none() {
            continue;
        }
        let provider = providers[rng.below(providers.len() as u64) as usize];
        let registered = start + Duration::minutes(rng.below(span_minutes) as i64);
        let attrs = Attributes::new();
        let (Ok(creation), Ok(stops)) = (
            case::creation_stop(reg, channel, &attrs),
            case::route(reg, channel, &attrs),
        ) else {
            continue;
        };
        let pclock = clocks
            .get(&provider.id)
            .ok_or_else(|| ApiError::internal(std::io::Error::other("clock")))?;
        let clock_of = |h: Holder| match (h, branch) {
            (Holder::Corporation, Some(b)) => clocks.get(&b.id).unwrap_or(pclock),
            _ => pclock,
        };
        let org_of = |h: Holder| match (h, branch) {
            (Holder::Corporation, Some(b)) => b.id,
            _ => provider.id,
        };
        let intake = if channel == Channel::StateCorporation {
            Intake::StateCorporation
        } else {
            Intake::Provider
        };
        let term = match &reg.legal_term {
            Some(t) => LegalDuration::new(t.value, t.unit)
                .ok()
                .and_then(|d| pclock.case_term(registered, d, intake).ok())
                .map(|t| (t.due.at, t.provider_due.map(|p| p.at))),
            None => {
                let mut at = registered;
                for s in &stops {
                    if let Some(d) = s.duration {
                        at = clock_of(s.holder)
                            .deadline(at, d.legal())
                            .map(|x| x.at)
                            .unwrap_or(at);
                    }
                }
                Some((at, None))
            }
        };
        // Outcomes: 5% refused at intake, 6% reasoned refusal, 12% still open, the rest results;
        // 85% of steps on time.
        let roll = rng.unit();
        let refused_at_intake = creation.is_some() && roll < 0.05;
        let refusal =
            (0.05..0.11).contains(&roll) && stops.iter().any(|s| s.stage == Stage::Prepare);
        let open_at = (0.11..0.23)
            .contains(&roll)
            .then(|| rng.below(stops.len().max(1) as u64) as usize);

        let id = case_id;
        case_id += 1;
        let mut seq = 0;
        let mut t = registered;
        let mut status = CaseStatus::InProgress;
        let mut stage = Stage::Closed;
        let mut route_index = None;
        let (mut mailbox, mut org, mut step_due, mut step_started) = (None, None, None, None);
        let (mut result_at, mut closed_at, mut storage_due) = (None, None, None);
        let mut step = |stop: &case::Stop,
                        started: DateTime<Utc>,
                        finished: Option<DateTime<Utc>>,
                        due: Option<DateTime<Utc>>,
                        seq: i32| {
            let c = clock_of(stop.holder);
            let allowed = due
                .and_then(|d| c.elapsed(started, d).ok())
                .map(|e| e.working_minutes as i64);
            let used = finished
                .and_then(|f| c.elapsed(started, f).ok())
                .map(|e| e.working_minutes as i64);
            steps.push(case_step::ActiveModel {
                id: Set(step_id),
                case_id: Set(id),
                seq: Set(seq),
                stage: Set(stop.stage.as_str().to_owned()),
                step_order: Set(stop.step_order.map(|o| o as i32)),
                leg: Set(stop.leg.map(str::to_owned)),
                mailbox: Set(mailbox_str(stop.mailbox).to_owned()),
                organisation_id: Set(org_of(stop.holder)),
                actor_id: Set(None),
                actor_name: Set(finished.map(|_| "generator".to_owned())),
                started_at: Set(started),
                due_at: Set(due),
                allowed_minutes: Set(allowed),
                finished_at: Set(finished),
                on_time: Set(finished.map(|f| due.is_none_or(|d| f <= d))),
                outcome: Set(finished.map(|_| "GENERATED".to_owned())),
                comment: Set(None),
                used_minutes: Set(used),
                // Generated history is not announced by the watchdog: moments already past
                // count as announced at generation.
                risk_at: Set(None),
                risk_announced_at: Set(Some(started)),
                overdue_announced_at: Set(due.filter(|d| *d <= now).map(|_| now)),
            });
            step_id += 1;
        };
        if let Some(c) = &creation {
            seq += 1;
            let due = c
                .duration
                .and_then(|d| clock_of(c.holder).deadline(t, d.legal()).ok())
                .map(|d| d.at);
            step(c, t, Some(t), due, seq);
        }
        if refused_at_intake {
            status = CaseStatus::RefusedAtIntake;
            closed_at = Some(t);
        } else {
            for (i, s) in stops.iter().enumerate() {
                let due = if s.stage == Stage::CorporationIssue {
                    t.checked_add_months(Months::new(case::storage_months(reg)))
                } else {
                    s.duration
                        .and_then(|d| clock_of(s.holder).deadline(t, d.legal()).ok())
                        .map(|d| d.at)
                };
                seq += 1;
                if open_at == Some(i) || s.stage == Stage::CorporationIssue {
                    // Open here (still in progress, or waiting at the counter).
                    step(s, t, None, due, seq);
                    stage = s.stage;
                    route_index = Some(i as i32);
                    mailbox = Some(mailbox_str(s.mailbox).to_owned());
                    org = Some(org_of(s.holder));
                    step_due = Some(due.unwrap_or_else(far_future));
                    step_started = Some(t);
                    if s.stage == Stage::CorporationIssue {
                        status = CaseStatus::ResultReady;
                        result_at = Some(t);
                        storage_due = due;
                    }
                    break;
                }
                let allowed = due.map(|d| d - t).unwrap_or(Duration::hours(1));
                let late = rng.unit() < 0.15;
                let finished = match due {
                    Some(d) if late => d + Duration::minutes(1 + rng.below(3 * 24 * 60) as i64),
                    _ => {
                        t + Duration::seconds(
                            ((allowed.num_seconds().max(60)) as f64 * rng.unit()) as i64,
                        )
                    }
                };
                step(s, t, Some(finished), due, seq);
                t = finished;
                if i + 1 == stops.len() {
                    status = if refusal {
                        CaseStatus::Refused
                    } else {
                        CaseStatus::Completed
                    };
                    result_at = Some(t);
                    closed_at = Some(t);
                }
            }
            if creation.is_none() && route_index == Some(0) {
                status = CaseStatus::Submitted;
            }
        }
        // Results waiting at the counter for over a month went back, one in ten.
        let mut returned = false;
        if status == CaseStatus::ResultReady
            && storage_due.is_some_and(|d| d < now)
            && rng.unit() < 0.1
        {
            returned = true;
            status = CaseStatus::ReturnedUnclaimed;
            stage = Stage::ProviderStorage;
            mailbox = Some("OFFICE".into());
            org = Some(provider.id);
            step_due = Some(far_future());
            storage_due = None;
        }
        let (term_due, provider_due) = match (refused_at_intake, term) {
            (false, Some((d, p))) => (Some(d), p),
            _ => (None, None),
        };
        let tz = pclock_tz(state, provider)?;
        let number = format!(
            "{}-{}-G{id:08}",
            region_iso(state, &provider.region_code),
            registered.with_timezone(&tz).format("%Y%m%d")
        );
        let payload =
            json!({ "generated": true, "channel": channel_str(channel), "regulation": reg.code })
                .to_string();
        let hash = event_hash(
            &"0".repeat(64),
            id,
            1,
            "GENERATED",
            &payload,
            "generator",
            registered,
        );
        events.push(case_event::ActiveModel {
            id: Set(event_id),
            case_id: Set(id),
            seq: Set(1),
            kind: Set("GENERATED".into()),
            payload: Set(payload),
            actor: Set("generator".into()),
            at: Set(registered),
            prev_hash: Set("0".repeat(64)),
            hash: Set(hash),
        });
        event_id += 1;
        cases.push(service_case::ActiveModel {
            id: Set(id),
            number: Set(number),
            regulation_id: Set(stored.row.id),
            regulation_code: Set(reg.code.clone()),
            regulation_version: Set(stored.row.version),
            service_code: Set(reg.service.clone()),
            region_code: Set(provider.region_code.clone()),
            provider_id: Set(provider.id),
            corporation_id: Set(branch.map(|b| b.id)),
            channel: Set(channel_str(channel).to_owned()),
            status: Set(status.as_str().to_owned()),
            stage: Set(stage.as_str().to_owned()),
            route_index: Set(route_index),
            current_mailbox: Set(mailbox),
            current_org_id: Set(org),
            assignee_id: Set(None),
            applicant_iin: Set("850305400120".into()),
            applicant_name: Set("Generated Applicant".into()),
            applicant_contacts: Set("{}".into()),
            applicant_id: Set(None),
            attributes: Set("{}".into()),
            documents: Set("[]".into()),
            receipt: Set(None),
            result: Set(result_at.map(|_| {
                json!({ "kind": if refusal { "REASONED_REFUSAL" } else { "RESULT" } }).to_string()
            })),
            refusal: Set(refusal.then(|| json!({ "kind": "REASONED_REFUSAL" }).to_string())),
            refusal_prepared: Set(refusal && result_at.is_some()),
            registered_at: Set(registered),
            term_due_at: Set(term_due),
            provider_due_at: Set(provider_due),
            step_started_at: Set(step_started),
            step_due_at: Set(step_due),
            storage_due_at: Set(storage_due),
            calendar_version: Set(calendar.version() as i32),
            idempotency_key: Set(None),
            version: Set(seq),
            created_at: Set(registered),
            updated_at: Set(t),
            closed_at: Set(closed_at),
            result_at: Set(result_at),
            result_on_time: Set(result_at.map(|r| term_due.is_none_or(|d| r <= d))),
            result_working_days: Set(result_at
                .and_then(|r| pclock.elapsed(registered, r).ok())
                .map(|e| e.working_days)),
            returned_unclaimed: Set(returned),
            registration: Set(None),
            request_hash: Set(None),
        });
        if cases.len() >= BATCH {
            flush(db, &mut cases, &mut steps, &mut events, &mut out).await?;
        }
    }
    flush(db, &mut cases, &mut steps, &mut events, &mut out).await?;
    // The rows above bypassed the case store, so the report rollups are recomputed from them.
    let txn = db.begin().await?;
    crate::store::rollup::rebuild(&txn).await?;
    txn.commit().await?;
    if db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        for t in ["service_case", "case_step", "case_event"] {
            db.execute_unprepared(&format!(
                "SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT MAX(id) FROM {t}))"
            ))
            .await?;
        }
        // VACUUM sets the visibility map of the freshly loaded pages, so that counts and reports
        // answer from index-only scans at once, not after autovacuum gets round to it.
        db.execute_unprepared(
            "VACUUM (ANALYZE) service_case, case_step, case_event, report_rollup, step_rollup",
        )
        .await?;
    }
    Ok(out)
}

fn pclock_tz(state: &AppState, o: &organisation::Model) -> Result<chrono_tz::Tz, ApiError> {
    Ok(hours_and_zone(state, o)?.1)
}

fn region_iso(state: &AppState, code: &str) -> String {
    state
        .regions
        .get(code)
        .map(|r| r.iso_code.replace('-', ""))
        .unwrap_or_else(|| "KZ".into())
}

async fn flush(
    db: &sea_orm::DatabaseConnection,
    cases: &mut Vec<service_case::ActiveModel>,
    steps: &mut Vec<case_step::ActiveModel>,
    events: &mut Vec<case_event::ActiveModel>,
    out: &mut Generated,
) -> Result<(), ApiError> {
    use sea_orm::TransactionTrait;
    if cases.is_empty() {
        return Ok(());
    }
    let txn = db.begin().await?;
    out.cases += cases.len() as u64;
    out.steps += steps.len() as u64;
    service_case::Entity::insert_many(std::mem::take(cases))
        .exec_without_returning(&txn)
        .await?;
    for chunk in std::mem::take(steps).chunks(1000) {
        case_step::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&txn)
            .await?;
    }
    case_event::Entity::insert_many(std::mem::take(events))
        .exec_without_returning(&txn)
        .await?;
    txn.commit().await?;
    Ok(())
}
