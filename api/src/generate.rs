//! `qyzmet generate --cases N`: fills a database with realistic cases for demos, reports and
//! benchmarks — across the regions, services and channels of the loaded regulations, in every
//! status, with their steps timed on the working calendar.
//!
//! Every history is made by the engine itself: [`engine::decide_intake`] registers the
//! application and [`engine::decide`] applies each move, chosen among the
//! [`engine::available_actions`] of the staff whose turn it is, at a simulated moment. So
//! generated data cannot drift from what qyzmet would have done: receipts, registrations,
//! refusals, results, due times, on-time flags and the hash-chained events are the engine's.
//! Only the rows are written differently: in bulk, not through the mailboxes (a million cases
//! in minutes), and without applicants' notices (nobody is told about invented cases).

use std::collections::HashMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use domain::case::{creation_stop, Action};
use domain::engine::{
    self, Actor, Applicant, Application, AvailableAction, CaseRecord, Command, Parties, StaffRef,
    SubmittedDocument, Transition, WorkingTime,
};
use domain::identity::Role;
use domain::regulation::{Channel, RefusalCode};
use entity::{app_user, case_event, case_step, organisation, service_case};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Statement,
};

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::cases::{
    event_hash, finish, hours_and_zone, new_row, parties, step_row, working_time, write_record,
    Contacts, Origin,
};

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
/// Tries at a registration moment inside the regulation's acceptance window.
const TRIES: usize = 20;
/// The demo applicants (see the README).
const APPLICANTS: [(&str, &str); 3] = [
    ("850305400120", "Айгүл Серікқызы Нұрланова"),
    ("901122600340", "Ерлан Болатұлы Сейітов"),
    ("010715500567", "Дана Маратқызы Әбдірахманова"),
];

/// How a generated case is to go: the rolls made once per case.
#[derive(Clone, Copy, Debug)]
struct Plan {
    /// Refused at intake (a document missing).
    refused_at_intake: bool,
    /// The executor prepares a reasoned refusal.
    reasoned_refusal: bool,
    /// The head returns the draft once.
    returned_once: bool,
    /// Left open at this stop of the route (still in progress).
    open_at: Option<usize>,
    /// The applicant never collects the result at the counter.
    uncollected: bool,
}

/// The rows of the cases made so far, written in batches.
#[derive(Default)]
struct Rows {
    cases: Vec<service_case::ActiveModel>,
    steps: Vec<case_step::ActiveModel>,
    events: Vec<case_event::ActiveModel>,
}

/// One case's history being written: its step and event rows, in order.
struct History {
    case_id: i64,
    seq: i32,
    open_step: Option<usize>,
    version: i32,
    prev_hash: String,
    events: i32,
}

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
    // The executor a head assigns: a real account of the provider when there is one.
    let mut executors: HashMap<i64, StaffRef> = HashMap::new();
    for u in app_user::Entity::find()
        .filter(app_user::Column::Role.eq(Role::Executor.as_str()))
        .filter(app_user::Column::Active.eq(true))
        .order_by_asc(app_user::Column::Id)
        .all(db)
        .await?
    {
        if let Some(org) = u.organisation_id {
            executors.entry(org).or_insert(StaffRef {
                id: u.id,
                name: u.username,
                role: Role::Executor,
                organisation_id: Some(org),
                active: true,
            });
        }
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
    let mut ids = Ids {
        case: next_id("service_case").await?,
        step: next_id("case_step").await?,
        event: next_id("case_event").await?,
    };
    let start = Utc
        .with_ymd_and_hms(year, 1, 1, 3, 0, 0)
        .single()
        .ok_or_else(|| ApiError::BadUserInput("bad year".into()))?;
    let span_minutes = 365 * 24 * 60;
    let mut rng = Rng(seed.max(1));
    let mut out = Generated::default();
    let mut rows = Rows::default();
    let now = state.clock.now();
    let calendar_version = calendar.version() as i32;
    // Working time and parties per (provider, branch), computed once.
    let mut worlds: HashMap<(i64, Option<i64>), (Parties, WorkingTime<'_>, chrono_tz::Tz)> =
        HashMap::new();
    let contacts = Contacts::default();

    let mut made = 0;
    let mut attempts = 0u64;
    let started = std::time::Instant::now();
    while made < n {
        attempts += 1;
        if attempts > n.saturating_mul(TRIES as u64).max(TRIES as u64) {
            return Err(ApiError::BadUserInput(
                "the loaded regulations accept too few applications in that year".into(),
            ));
        }
        let (stored, providers, branch) = &choices[rng.below(choices.len() as u64) as usize];
        let reg = &stored.regulation;
        let channel = reg.apply_channels[rng.below(reg.apply_channels.len() as u64) as usize];
        let branch = match channel {
            Channel::StateCorporation => match branch {
                Some(b) => Some(*b),
                None => continue,
            },
            _ => None,
        };
        let provider = providers[rng.below(providers.len() as u64) as usize];
        let key = (provider.id, branch.map(|b| b.id));
        let (parties, time, tz) = match worlds.entry(key) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                let time = working_time(state, &calendar, provider, branch)?;
                let tz = hours_and_zone(state, provider)?.1;
                v.insert((parties(provider, branch), time, tz))
            }
        };
        let (parties, time, tz) = (&*parties, &*time, &*tz);
        let plan = Plan {
            refused_at_intake: rng.unit() < 0.05,
            reasoned_refusal: rng.unit() < 0.06,
            returned_once: rng.unit() < 0.05,
            open_at: (rng.unit() < 0.12).then(|| rng.below(8) as usize),
            uncollected: rng.unit() < 0.1,
        };
        // Refused at the counter or the office only where the act provides that refusal.
        let refuse_at_creation = plan
            .refused_at_intake
            .then(|| {
                creation_stop(reg, channel, &Default::default())
                    .ok()
                    .flatten()
            })
            .flatten()
            .and_then(|stop| {
                domain::refusal::fewest_grounds(
                    domain::refusal::offered(
                        reg,
                        RefusalCode::IntakeRefusal,
                        channel,
                        engine::refused_by(stop.holder),
                    )
                    .as_ref(),
                )
            });
        let (iin, name) = APPLICANTS[rng.below(APPLICANTS.len() as u64) as usize];
        let application = Application {
            applicant: Applicant {
                iin: iin.into(),
                full_name: name.into(),
            },
            documents: vec![
                SubmittedDocument {
                    name: "application".into(),
                    provided: true,
                    expired: false,
                },
                SubmittedDocument {
                    name: "identity document".into(),
                    provided: !refuse_at_creation.is_some_and(|(missing, _)| missing),
                    expired: refuse_at_creation.is_some_and(|(_, expired)| expired),
                },
            ],
            attributes: Default::default(),
            applies_to: None,
        };
        let registered = start + Duration::minutes(rng.below(span_minutes) as i64);
        let ctx = |at: DateTime<Utc>| engine::Context {
            regulation: reg,
            regulation_version: stored.row.version,
            parties,
            time,
            now: at,
        };
        let intake_actor = match creation_stop(reg, channel, &application.attributes) {
            Ok(Some(stop)) => Actor {
                user_id: None,
                name: generated_name(engine::mailbox_role(stop.mailbox)),
                role: engine::mailbox_role(stop.mailbox),
                organisation_id: parties.org(stop.holder).ok().map(|o| o.id),
                iin: None,
            },
            Ok(None) => Actor {
                user_id: None,
                name: iin.into(),
                role: Role::Applicant,
                organisation_id: None,
                iin: Some(iin.into()),
            },
            Err(_) => continue,
        };
        let local = registered.with_timezone(tz).date_naive();
        // Outside the acceptance window (or otherwise not acceptable): try another moment.
        let Ok(intake) = engine::decide_intake(
            &ctx(registered),
            channel,
            &application,
            &intake_actor,
            local,
        ) else {
            continue;
        };
        made += 1;
        let id = ids.case;
        ids.case += 1;
        let number = format!(
            "{}-{}-G{id:08}",
            region_iso(state, &provider.region_code),
            local.format("%Y%m%d")
        );
        let intake = intake.numbered(number);
        let mut history = History {
            case_id: id,
            seq: 0,
            open_step: None,
            version: 0,
            prev_hash: "0".repeat(64),
            events: 0,
        };
        history.write(
            &mut rows,
            &mut ids,
            &intake,
            &intake_actor.name,
            registered,
            now,
        );
        let mut case = intake.case;
        let mut returned = false;
        let mut t = registered;
        while let Some(place) = case.place {
            if plan.open_at == case.route_index {
                break;
            }
            let role = engine::mailbox_role(place.mailbox);
            let executor = executors
                .get(&parties.provider.id)
                .cloned()
                .unwrap_or_else(|| StaffRef {
                    id: 0,
                    name: generated_name(Role::Executor),
                    role: Role::Executor,
                    organisation_id: Some(parties.provider.id),
                    active: true,
                });
            let actor = Actor {
                user_id: (role == Role::Executor).then_some(executor.id),
                name: if role == Role::Executor {
                    executor.name.clone()
                } else {
                    generated_name(role)
                },
                role,
                organisation_id: parties.org(place.holder).ok().map(|o| o.id),
                iin: None,
            };
            let open = engine::available_actions(&case, parties, reg, &actor);
            let Some((command, at)) =
                next_move(&case, &open, plan, returned, executor, t, &mut rng)
            else {
                break;
            };
            if at > now {
                break;
            }
            let Ok(moved) = engine::decide(&ctx(at), &case, &command, &actor) else {
                break;
            };
            returned |= matches!(command, Command::ReturnToExecutor { .. });
            history.write(&mut rows, &mut ids, &moved, &actor.name, at, now);
            case = moved.case;
            t = at;
        }
        let origin = Origin {
            regulation: stored,
            provider,
            corporation: branch,
            calendar_version,
            contacts: &contacts,
            applicant_id: None,
            idempotency_key: None,
            request_hash: None,
        };
        let mut row = new_row(&origin, &case, registered)?;
        write_record(&mut row, &case, parties)?;
        row.id = Set(id);
        row.version = Set(history.version);
        row.updated_at = Set(t);
        rows.cases.push(row);
        if rows.cases.len() >= BATCH {
            flush(db, &mut rows, &mut out).await?;
        }
        // Progress for long runs: every 5 % (and at least every 50,000 cases).
        let step = (n / 20).clamp(1, 50_000);
        if made % step == 0 || made == n {
            let elapsed = started.elapsed().as_secs_f64();
            tracing::info!(
                made,
                of = n,
                percent = made * 100 / n.max(1),
                per_second = (made as f64 / elapsed.max(0.001)).round(),
                "generating cases"
            );
        }
    }
    flush(db, &mut rows, &mut out).await?;
    tracing::info!("recomputing the report rollups");
    // The rows above bypassed the case store, so the report rollups are recomputed from them.
    let txn = crate::store::begin_write(db).await?;
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

/// The next row ids.
struct Ids {
    case: i64,
    step: i64,
    event: i64,
}

fn generated_name(role: Role) -> String {
    format!(
        "generated-{}",
        role.as_str().to_lowercase().replace('_', "-")
    )
}

/// The move the staff whose turn it is make next, and when: on time (85%) somewhere within the
/// stop's allowance, or late by up to three days; the applicant collects a result within three
/// weeks, or never (then it goes back to the provider when storage ends). `None`: nothing more
/// happens to this case (it stays where it is).
fn next_move(
    case: &CaseRecord,
    open: &[AvailableAction],
    plan: Plan,
    returned: bool,
    executor: StaffRef,
    started: DateTime<Utc>,
    rng: &mut Rng,
) -> Option<(Command, DateTime<Utc>)> {
    let has = |a: Action| open.iter().any(|o| o.action == a);
    // The refusal the act provides with an action, if any: only those are planned.
    let refusal = |a: Action| {
        open.iter()
            .find(|o| o.action == a)
            .and_then(|o| o.refusal.as_ref())
    };
    let command = if has(Action::CompleteIntake) {
        let refuse = plan
            .refused_at_intake
            .then(|| domain::refusal::fewest_grounds(refusal(Action::CompleteIntake)))
            .flatten();
        let named = |yes: bool| {
            if yes {
                vec!["identity document".to_owned()]
            } else {
                Vec::new()
            }
        };
        Command::CompleteIntake {
            missing: named(refuse.is_some_and(|(missing, _)| missing)),
            expired: named(refuse.is_some_and(|(_, expired)| expired)),
        }
    } else if has(Action::AssignExecutor) {
        Command::AssignExecutor {
            name: executor.name.clone(),
            executor: Some(executor),
        }
    } else if has(Action::PrepareResult) {
        Command::Prepare {
            refusal_grounds: (plan.reasoned_refusal && refusal(Action::PrepareResult).is_some())
                .then(|| "the applicant does not meet the Standard's conditions".into()),
            note: None,
        }
    } else if has(Action::ReturnToExecutor) && plan.returned_once && !returned {
        Command::ReturnToExecutor {
            comment: "please correct the draft".into(),
        }
    } else if has(Action::SignResult) {
        Command::Sign
    } else if has(Action::IssueResult) {
        Command::Issue
    } else if has(Action::DeliverToProvider) {
        Command::DeliverToProvider
    } else if has(Action::ReceiveResult) {
        Command::ReceiveResult
    } else if has(Action::IssueAtCorporation) && !plan.uncollected {
        Command::IssueAtCorporation
    } else if has(Action::ReturnUncollected) {
        let end = case.storage_due?;
        let at = end + Duration::minutes(rng.below(2 * 24 * 60) as i64);
        return Some((Command::ReturnUncollected, at));
    } else {
        return None;
    };
    let at = match case.step_due {
        Some(due) if rng.unit() < 0.15 => {
            due + Duration::minutes(1 + rng.below(3 * 24 * 60) as i64)
        }
        Some(due) => {
            let allowed = (due - started).num_seconds().max(60);
            started + Duration::seconds((allowed as f64 * rng.unit()) as i64)
        }
        None => started + Duration::minutes(rng.below(21 * 24 * 60) as i64),
    };
    Some((command, at.max(started)))
}

impl History {
    /// Adds the rows of one transition, as the case store would persist it. Moments already
    /// past at generation count as announced, so the watchdog does not announce old history.
    fn write(
        &mut self,
        rows: &mut Rows,
        ids: &mut Ids,
        t: &Transition,
        actor: &str,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) {
        let announced = |m: Option<DateTime<Utc>>| m.filter(|m| *m <= now).map(|_| now);
        let mut add = |seq: i32, s: &engine::OpenedStep, rows: &mut Rows| {
            let mut row = step_row(self.case_id, seq, s);
            row.id = Set(ids.step);
            ids.step += 1;
            row.risk_announced_at = Set(announced(s.risk_at));
            row.overdue_announced_at = Set(announced(s.due));
            rows.steps.push(row);
            rows.steps.len() - 1
        };
        if let Some(created) = &t.created_step {
            self.seq += 1;
            let i = add(self.seq, created, rows);
            rows.steps[i].risk_at = Set(None);
            if let Some(c) = &t.closed {
                finish(&mut rows.steps[i], c);
            }
        } else if let (Some(c), Some(i)) = (&t.closed, self.open_step.take()) {
            finish(&mut rows.steps[i], c);
        }
        if let Some(opened) = &t.opened {
            self.seq += 1;
            self.open_step = Some(add(self.seq, opened, rows));
        }
        self.version += 1;
        self.events += 1;
        let payload = t.event.payload.to_string();
        let hash = event_hash(
            &self.prev_hash,
            self.case_id,
            self.events,
            t.event.kind,
            &payload,
            actor,
            at,
        );
        rows.events.push(case_event::ActiveModel {
            id: Set(ids.event),
            case_id: Set(self.case_id),
            seq: Set(self.events),
            kind: Set(t.event.kind.into()),
            payload: Set(payload),
            actor: Set(actor.into()),
            at: Set(at),
            prev_hash: Set(std::mem::replace(&mut self.prev_hash, hash.clone())),
            hash: Set(hash),
        });
        ids.event += 1;
    }
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
    rows: &mut Rows,
    out: &mut Generated,
) -> Result<(), ApiError> {
    if rows.cases.is_empty() {
        return Ok(());
    }
    let txn = crate::store::begin_write(db).await?;
    out.cases += rows.cases.len() as u64;
    out.steps += rows.steps.len() as u64;
    service_case::Entity::insert_many(std::mem::take(&mut rows.cases))
        .exec_without_returning(&txn)
        .await?;
    for chunk in std::mem::take(&mut rows.steps).chunks(1000) {
        case_step::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&txn)
            .await?;
    }
    for chunk in std::mem::take(&mut rows.events).chunks(1000) {
        case_event::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(())
}
